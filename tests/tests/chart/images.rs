//! The Dockerfiles (no container engine runs here, so their shape is checked) and
//! the image names the chart and the operator agree on.

use crate::{repo, template};

fn dockerfile(crate_dir: &str) -> String {
    let path = repo().join(crate_dir).join("Dockerfile");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn the_dockerfiles_build_a_release_binary_into_a_distroless_non_root_image() {
    for (dir, package) in [("operator", "botfleet-operator"), ("bot", "botfleet-bot")] {
        let text = dockerfile(dir);
        let froms: Vec<_> = text.lines().filter(|l| l.starts_with("FROM ")).collect();
        assert_eq!(
            froms.len(),
            2,
            "{dir}/Dockerfile: a build and a runtime stage"
        );
        assert!(
            froms[1].contains("gcr.io/distroless/"),
            "{dir}: runtime {}",
            froms[1]
        );
        assert!(
            text.contains(&format!("--locked -p {package} --bin {package}")),
            "{dir}/Dockerfile does not build {package}"
        );
        assert!(
            text.contains(&format!("ENTRYPOINT [\"/usr/local/bin/{package}\"]")),
            "{dir}/Dockerfile: exec-form entrypoint (no shell)"
        );
        let user = text
            .lines()
            .rfind(|l| l.starts_with("USER "))
            .unwrap_or_else(|| panic!("{dir}/Dockerfile: no USER"));
        let uid: u32 = user[5..]
            .split(':')
            .next()
            .unwrap()
            .parse()
            .unwrap_or_else(|_| panic!("{dir}/Dockerfile: `{user}` is not numeric (runAsNonRoot)"));
        assert_ne!(uid, 0, "{dir}/Dockerfile runs as root");
        // The package exists with a binary of that name (src/main.rs).
        let manifest = std::fs::read_to_string(repo().join(dir).join("Cargo.toml")).unwrap();
        assert!(
            manifest.contains(&format!("name = \"{package}\"")),
            "{dir}/Cargo.toml"
        );
        assert!(repo().join(dir).join("src/main.rs").is_file());
    }
}

#[test]
fn the_chart_and_the_operator_default_to_the_same_engine_image() {
    let main = std::fs::read_to_string(repo().join("operator/src/main.rs")).unwrap();
    let docs = crate::documents(&template("botfleet", &[]));
    let deploy = crate::one(&docs, "Deployment");
    let args = deploy["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_sequence()
        .unwrap();
    let image = args
        .iter()
        .filter_map(|a| a.as_str()?.strip_prefix("--engine-image="))
        .next()
        .expect("--engine-image");
    let (repository, tag) = image.rsplit_once(':').unwrap();
    assert!(
        main.contains(&format!("\"{repository}:\", env!(\"CARGO_PKG_VERSION\")")),
        "operator/src/main.rs defaults to another engine image than the chart's {repository}"
    );
    assert_eq!(tag, env!("CARGO_PKG_VERSION"));
}

/// The long flags of the operator's `struct Flags` (clap derives `--field-name`).
fn operator_flags() -> Vec<String> {
    let main = std::fs::read_to_string(repo().join("operator/src/main.rs")).unwrap();
    let start = main
        .find("struct Flags {")
        .expect("struct Flags in operator/src/main.rs");
    let body = &main[start..start + main[start..].find("\n}").unwrap()];
    body.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("//") && !l.starts_with("#["))
        .filter_map(|l| l.split_once(':').map(|(field, _)| field.trim()))
        .filter(|f| !f.is_empty() && f.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        .map(|f| format!("--{}", f.replace('_', "-")))
        .collect()
}

#[test]
fn every_flag_the_chart_passes_is_one_the_operator_has() {
    let flags = operator_flags();
    assert!(flags.contains(&"--engine-image".to_string()), "{flags:?}");
    assert!(flags.len() >= 20, "{flags:?}");
    let docs = crate::documents(&template(
        "botfleet",
        &[
            "--set",
            "operator.watchNamespaces={bots},operator.replicas=2",
        ],
    ));
    let deploy = crate::one(&docs, "Deployment");
    let args = deploy["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_sequence()
        .unwrap();
    for arg in args {
        let arg = arg.as_str().unwrap();
        let flag = arg.split('=').next().unwrap();
        assert!(
            flags.iter().any(|f| f == flag),
            "the chart passes `{arg}`, but operator/src/main.rs has no {flag} (it has {flags:?})"
        );
    }
}
