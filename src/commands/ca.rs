//! `oauthscope ca`: show the local CA and how to trust it.

use crate::ca::{LocalCa, trust_instructions};
use crate::cli::CaArgs;

/// `oauthscope ca`
pub fn ca(args: CaArgs) -> anyhow::Result<()> {
    let ca = if args.rotate {
        LocalCa::rotate(&args.ca_dir)?
    } else {
        LocalCa::load_or_create(&args.ca_dir)?
    };
    let info = &ca.info;
    if args.json {
        crate::outln!("{}", serde_json::to_string_pretty(info)?);
        return Ok(());
    }
    if args.rotate {
        crate::outln!(
            "rotated: a new CA replaces the old one; clients must trust the new certificate.\n"
        );
    } else if info.created {
        crate::outln!("created a new CA.\n");
    }
    crate::outln!("certificate  {}", info.cert_path.display());
    crate::outln!(
        "private key  {} (mode 0600; keep it secret)",
        info.key_path.display()
    );
    crate::outln!("subject      {}", info.subject);
    crate::outln!("SHA-256      {}", info.sha256);
    crate::outln!("expires      {}", info.not_after);
    crate::outln!("SPKI SHA-256 {}", info.spki_sha256);
    let proxy_url = if args.proxy.contains("://") {
        args.proxy.clone()
    } else {
        format!("http://{}", args.proxy)
    };
    crate::outln!(
        "\nRoute your client through the proxy and trust the CA:\n{}",
        trust_instructions(info, &proxy_url)
    );
    Ok(())
}
