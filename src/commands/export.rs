//! `oauthscope export`: a capture or HAR as HAR 1.2.

use anyhow::Context as _;

use super::{run_engine, with_progress};
use crate::capture::source::Source;
use crate::cli::ExportArgs;
use crate::oauth::Flow;

/// `oauthscope export`
pub fn export(args: ExportArgs) -> anyhow::Result<()> {
    let n = export_har(
        &args.input,
        &args.har,
        args.no_redact,
        args.connector.as_deref(),
    )?;
    let message = format!(
        "wrote {n} entries to {}{}",
        if args.har.as_os_str() == "-" {
            "standard output".to_string()
        } else {
            args.har.display().to_string()
        },
        if args.no_redact {
            " (secrets in clear: keep it private)"
        } else {
            " (secrets redacted)"
        }
    );
    // The HAR itself may be on stdout: the message goes to stderr then.
    if args.har.as_os_str() == "-" {
        eprintln!("{message}");
    } else {
        crate::outln!("{message}");
    }
    Ok(())
}

/// Write `input` (capture or HAR) as HAR 1.2: the analysis finds the findings each
/// exchange is evidence for (some are known only at the end), then the file is read
/// again through a [`Flow`] alone (classification, no analyzers) to write the entries
/// one by one, so memory stays bounded whatever the capture's size.
pub fn export_har(
    input: &std::path::Path,
    out: &std::path::Path,
    no_redact: bool,
    connector: Option<&std::path::Path>,
) -> anyhow::Result<u64> {
    use crate::capture::har::{EntryFacts, HarOptions, HarWriter};
    use std::collections::HashMap;
    let (engine, _) = run_engine(input, false, connector)?;
    let analysis = engine.finish();
    let known = analysis.flow.known.clone();
    let mut by_exchange: HashMap<u64, Vec<String>> = HashMap::new();
    for f in &analysis.findings {
        for id in &f.exchanges {
            let v = by_exchange.entry(*id).or_default();
            if !v.iter().any(|r| r == f.rule) {
                v.push(f.rule.to_string());
            }
        }
    }
    let source = Source::open(input)?;
    let mut flow = Flow::new(&source.salt, false);
    let fpr = flow.fpr.clone();
    let file = create_output(out)?;
    let mut writer = HarWriter::new(
        file,
        HarOptions {
            redact: (!no_redact).then(|| fpr.clone()),
            salt: Some(source.salt.clone()),
            known: (!no_redact).then_some(known),
        },
    )?;
    let mut result: std::io::Result<()> = Ok(());
    let info = with_progress(&source, |warn, tick| {
        source.run(warn, |ex| {
            let c = flow.classify(&ex);
            // What the analysis needs of the secrets the redaction masks.
            let hints = if no_redact {
                None
            } else {
                crate::oauth::hints::of(&ex, &c.step, c.at, &flow.state, &fpr)
            };
            let step = flow.apply(&ex, c, Vec::new());
            let facts = EntryFacts {
                step: step.name().to_string(),
                token_fps: crate::oauth::display::token_fps(&step, &fpr),
                findings: by_exchange.get(&ex.id).cloned().unwrap_or_default(),
                hints,
            };
            if result.is_ok() {
                result = writer.entry(&ex, &facts);
            }
            tick();
        })
    })?;
    result.with_context(|| format!("writing {}", out.display()))?;
    writer
        .finish()
        .with_context(|| format!("writing {}", out.display()))?;
    Ok(info.exchanges)
}

/// Where an export goes: a private (0600) file, never through a symbolic link, or
/// standard output for `-`.
fn create_output(path: &std::path::Path) -> anyhow::Result<Box<dyn std::io::Write>> {
    if path.as_os_str() == "-" {
        return Ok(Box::new(std::io::stdout().lock()));
    }
    let file = crate::capture::files::create_private(path)?;
    Ok(Box::new(std::io::BufWriter::new(file)))
}
