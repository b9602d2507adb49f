//! Which engine images may run a bot: an allowlist pinned by digest. The
//! engine holds exchange keys and reports the numbers gates are decided
//! on, so the code it runs is chosen by whoever installs the operator, not
//! by whoever may edit a TradingBot.

/// `Ok` when `image` may run: the allowlist is empty (no restriction: the
/// behaviour before allowlists existed) or holds exactly `image`. Entries
/// are `repository@sha256:<digest>`: a tag can be moved to other code, a
/// digest cannot.
pub fn check_image(image: &str, trusted: &[String]) -> Result<(), String> {
    if trusted.is_empty() || trusted.iter().any(|t| t == image) {
        return Ok(());
    }
    let hint = if image.contains("@sha256:") {
        "add it to the operator's trusted engine images (chart value engine.trustedImages)"
    } else {
        "images are trusted by digest: pin it as repository@sha256:<digest> and add that to the operator's trusted engine images (chart value engine.trustedImages)"
    };
    Err(format!(
        "spec.engine.image: `{image}` is not a trusted engine image; {hint}, or remove spec.engine.image to use the default"
    ))
}

/// Problems with the allowlist itself (an entry without a digest trusts a
/// tag that can move), for the operator's flags.
pub fn check_allowlist(trusted: &[String]) -> Result<(), String> {
    match trusted.iter().find(|t| !is_digest_pinned(t)) {
        Some(t) => Err(format!(
            "--trusted-engine-image `{t}` is not pinned by digest; write repository@sha256:<64 hex digits>"
        )),
        None => Ok(()),
    }
}

fn is_digest_pinned(image: &str) -> bool {
    image.split_once("@sha256:").is_some_and(|(repo, digest)| {
        !repo.is_empty() && digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "ghcr.io/botfleet/botfleet-bot@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn an_empty_allowlist_trusts_every_image() {
        assert!(check_image("anything:latest", &[]).is_ok());
    }

    #[test]
    fn only_listed_digests_are_trusted() {
        let list = vec![GOOD.to_string()];
        assert!(check_image(GOOD, &list).is_ok());
        let other = GOOD.replace("0123", "fff0");
        let err = check_image(&other, &list).unwrap_err();
        assert!(
            err.starts_with("spec.engine.image:") && err.contains(&other),
            "{err}"
        );
        let tag = check_image("ghcr.io/botfleet/botfleet-bot:0.1.0", &list).unwrap_err();
        assert!(tag.contains("pin it as repository@sha256"), "{tag}");
    }

    #[test]
    fn an_allowlist_entry_must_be_a_digest() {
        assert!(check_allowlist(&[GOOD.to_string()]).is_ok());
        let err = check_allowlist(&["ghcr.io/botfleet/botfleet-bot:0.1.0".into()]).unwrap_err();
        assert!(err.contains("not pinned by digest"), "{err}");
        assert!(check_allowlist(&["repo@sha256:abc".into()]).is_err());
    }
}
