//! The engine's start-up layout (`bot/startup-symbols.txt`, laid out first by
//! `bot/build.rs`): the committed list's shape, and the check the image build
//! runs so that a list gone stale fails instead of costing each bot pod
//! megabytes unseen (`scripts/startup-symbols.sh --check`).

use std::path::Path;
use std::process::{Command, Output};

use crate::repo;

/// The sections of a list: (build, count in its header, names).
fn sections(text: &str) -> Vec<(String, usize, Vec<&str>)> {
    let mut out: Vec<(String, usize, Vec<&str>)> = Vec::new();
    for line in text.lines() {
        if let Some(header) = line.strip_prefix("# build ") {
            // "images (2131 functions)"
            let (build, rest) = header
                .split_once(" (")
                .expect("`# build NAME (N functions)`");
            let count = rest
                .strip_suffix(" functions)")
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("unreadable header {line:?}"));
            out.push((build.to_string(), count, Vec::new()));
        } else if !line.starts_with('#') {
            out.last_mut()
                .unwrap_or_else(|| panic!("a name before any section: {line:?}"))
                .2
                .push(line);
        }
    }
    out
}

#[test]
fn the_committed_list_has_a_section_for_each_build_that_runs_an_idle_bot() {
    let path = repo().join("bot/startup-symbols.txt");
    let text = std::fs::read_to_string(&path).unwrap();
    let sections = sections(&text);
    // In the order they were recorded (`make startup-symbols` or one at a time).
    let mut builds: Vec<_> = sections.iter().map(|s| s.0.as_str()).collect();
    builds.sort_unstable();
    assert_eq!(builds, ["bench", "images", "release"], "{}", path.display());
    for (build, count, names) in &sections {
        assert_eq!(
            *count,
            names.len(),
            "section {build}: header and names disagree"
        );
        // A start-up's worth of functions, each a symbol name.
        assert!(*count > 1000, "section {build}: only {count} functions");
        assert!(
            names
                .iter()
                .all(|n| !n.is_empty() && !n.contains(char::is_whitespace)),
            "section {build}: a line that is not a symbol name"
        );
        assert!(
            names.iter().any(|n| n.contains("botfleet_bot")),
            "section {build}: none of the engine's own functions"
        );
    }
}

/// Functions defined in this test binary, as `nm` names them.
fn own_functions(n: usize) -> Vec<String> {
    let exe = std::env::current_exe().unwrap();
    let out = Command::new("nm")
        .arg("--defined-only")
        .arg(&exe)
        .output()
        .expect("nm (binutils) runs");
    assert!(out.status.success(), "nm {}", exe.display());
    // (A local symbol's name can repeat.)
    let mut seen = std::collections::HashSet::new();
    let names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (_, kind, name) = (f.next()?, f.next()?, f.next()?);
            matches!(kind, "t" | "T").then(|| name.to_string())
        })
        .filter(|name| seen.insert(name.clone()))
        .take(n)
        .collect();
    assert_eq!(
        names.len(),
        n,
        "this test binary defines fewer than {n} functions"
    );
    names
}

/// `--check` of this test binary against `list`.
fn check(dir: &Path, list: &str) -> Output {
    let file = dir.join("startup-symbols.txt");
    std::fs::write(&file, list).unwrap();
    Command::new(repo().join("scripts/startup-symbols.sh"))
        .arg("--check")
        .arg(std::env::current_exe().unwrap())
        .env("BOTFLEET_STARTUP_SYMBOLS", &file)
        .output()
        .expect("the script runs")
}

fn section(build: &str, names: &[String]) -> String {
    format!(
        "# build {build} ({} functions)\n{}\n",
        names.len(),
        names.join("\n")
    )
}

/// `n` names no build has (a list recorded for another toolchain, say).
fn stale(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("_ZN5stale8function{i}17h0000000000000000E"))
        .collect()
}

#[test]
fn the_layout_check_passes_when_one_section_has_nine_in_ten_of_its_functions_in_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let own = own_functions(100);

    let fits = [section("other", &stale(100)), section("own", &own)].concat();
    let out = check(dir.path(), &fits);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("the own section fits"), "{said}");
    assert!(said.contains("100 of 100"), "{said}");

    // A few names lost to code changes since the recording: still current.
    let drifted = [own[..91].to_vec(), stale(9)].concat();
    let out = check(dir.path(), &section("own", &drifted));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_layout_check_fails_and_says_how_to_record_again_when_no_section_fits() {
    let dir = tempfile::tempdir().unwrap();
    let own = own_functions(100);

    let half = [own[..50].to_vec(), stale(50)].concat();
    let list = [section("other", &stale(100)), section("own", &half)].concat();
    let out = check(dir.path(), &list);
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("is stale"), "{said}");
    assert!(said.contains("own: 50 of 100"), "{said}");
    assert!(said.contains("other: 0 of 100"), "{said}");
    assert!(said.contains("make startup-symbols"), "{said}");
}
