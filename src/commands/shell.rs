//! `oauthscope completions`, `oauthscope man` and `oauthscope config`: generated from the
//! same clap definitions as `--help`, so they never drift.

use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs, ConfigArgs, TextFormat};

/// `oauthscope completions SHELL`
pub fn completions(args: CompletionsArgs) -> anyhow::Result<()> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "oauthscope", &mut out);
    crate::out!("{}", String::from_utf8_lossy(&out));
    Ok(())
}

/// `oauthscope man`: the main page, then a section per subcommand with its synopsis,
/// description and options.
pub fn man() -> anyhow::Result<()> {
    let cmd = Cli::command();
    let mut out: Vec<u8> = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut out)?;
    for sub in cmd.get_subcommands() {
        let sub = sub
            .clone()
            .display_name(format!("oauthscope-{}", sub.get_name()));
        let page = clap_mangen::Man::new(sub);
        page.render_name_section(&mut out)?;
        page.render_synopsis_section(&mut out)?;
        page.render_description_section(&mut out)?;
        page.render_options_section(&mut out)?;
    }
    crate::out!("{}", String::from_utf8_lossy(&out));
    Ok(())
}

/// `oauthscope config`
pub fn config(args: ConfigArgs) -> anyhow::Result<()> {
    let files = crate::config::files();
    let settings = crate::config::read(&files)?;
    match args.format {
        TextFormat::Json => crate::outln!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({"files": files, "settings": settings})
            )?
        ),
        TextFormat::Text => crate::out!("{}", crate::config::describe(&settings, &files)),
    }
    Ok(())
}
