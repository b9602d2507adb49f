//! The CRDs committed under charts/botfleet/crds/ must be exactly what
//! `crdgen` produces from the Rust types.

use std::path::PathBuf;

use botfleet_crds::crd::{CRD_DIR, REGENERATE_COMMAND};
use botfleet_crds::crd_files;

#[test]
fn committed_crds_match_the_rust_types() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(CRD_DIR);
    let mut stale = Vec::new();
    for (name, generated) in crd_files() {
        let path = dir.join(&name);
        match std::fs::read_to_string(&path) {
            Ok(committed) if committed == generated => {}
            Ok(_) => stale.push(format!("{CRD_DIR}/{name} differs from the Rust types")),
            Err(e) => stale.push(format!("{CRD_DIR}/{name} cannot be read: {e}")),
        }
    }
    let expected: Vec<String> = crd_files().into_iter().map(|(n, _)| n).collect();
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".botfleet.dev.yaml") && !expected.contains(&name) {
            stale.push(format!(
                "{CRD_DIR}/{name} is not generated any more; delete it"
            ));
        }
    }
    assert!(
        stale.is_empty(),
        "{}\nRegenerate with:\n  {REGENERATE_COMMAND}",
        stale.join("\n")
    );
}
