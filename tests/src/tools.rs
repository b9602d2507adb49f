//! Where the tests find the control plane binaries and the client tools.
//!
//! Both are installed outside the repository by scripts, and a missing one fails with
//! an error naming the script that installs it.

use std::path::PathBuf;

use anyhow::{Result, bail};

/// The Kubernetes version the control plane script builds.
pub const CONTROL_PLANE_VERSION: &str = "v1.20.2";

fn cache_home() -> PathBuf {
    match std::env::var_os("XDG_CACHE_HOME") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into())).join(".cache")
        }
    }
}

/// `$BOTFLEET_CONTROL_PLANE_DIR/bin`, or the default cache of
/// `scripts/install-control-plane.sh`.
pub fn control_plane_bin_dir() -> PathBuf {
    match std::env::var_os("BOTFLEET_CONTROL_PLANE_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir).join("bin"),
        _ => cache_home()
            .join("botfleet/control-plane")
            .join(CONTROL_PLANE_VERSION)
            .join("bin"),
    }
}

/// `$BOTFLEET_TOOLS_DIR/bin`, or the default cache of `scripts/install-tools.sh`.
pub fn tools_bin_dir() -> PathBuf {
    match std::env::var_os("BOTFLEET_TOOLS_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir).join("bin"),
        _ => cache_home().join("botfleet/tools/bin"),
    }
}

/// The path of a control plane binary (`etcd`, `kube-apiserver`, `kube-controller-manager`).
pub fn control_plane_binary(name: &str) -> Result<PathBuf> {
    find(
        control_plane_bin_dir(),
        name,
        "scripts/install-control-plane.sh",
        "BOTFLEET_CONTROL_PLANE_DIR",
    )
}

/// The path of the kubectl the tests use (v1.33, from `scripts/install-tools.sh`).
pub fn kubectl() -> Result<PathBuf> {
    find(
        tools_bin_dir(),
        "kubectl",
        "scripts/install-tools.sh",
        "BOTFLEET_TOOLS_DIR",
    )
}

/// The path of helm (from `scripts/install-tools.sh`).
pub fn helm() -> Result<PathBuf> {
    find(
        tools_bin_dir(),
        "helm",
        "scripts/install-tools.sh",
        "BOTFLEET_TOOLS_DIR",
    )
}

fn find(dir: PathBuf, name: &str, script: &str, env: &str) -> Result<PathBuf> {
    let path = dir.join(name);
    if !path.is_file() {
        bail!(
            "{name} not found at {}: run `{script}` to install it \
             (or set {env} to the directory that holds bin/{name})",
            path.display()
        );
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_tool_names_its_path_script_and_variable() {
        let dir = tempfile::tempdir().unwrap();
        let err = find(
            dir.path().to_owned(),
            "kubectl",
            "scripts/install-tools.sh",
            "BOTFLEET_TOOLS_DIR",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains(&dir.path().join("kubectl").display().to_string()),
            "{err}"
        );
        assert!(err.contains("run `scripts/install-tools.sh`"), "{err}");
        assert!(err.contains("BOTFLEET_TOOLS_DIR"), "{err}");

        std::fs::write(dir.path().join("kubectl"), "").unwrap();
        assert_eq!(
            find(dir.path().to_owned(), "kubectl", "s", "E").unwrap(),
            dir.path().join("kubectl")
        );
    }
}
