//! Lays out the release binary's code so an idle bot's few megabytes of it
//! sit together: the functions `startup-symbols.txt` names (recorded by
//! `scripts/startup-symbols.sh`) come first. The kernel maps 64 KiB around
//! every code page a process faults in, so start-up code scattered over the
//! whole `.text` made most of it resident (8.7 of 12.3 MB; 3.0 laid out).
//!
//! Only where the linker is LLD (Rust ≥ 1.90's default on x86_64 Linux): GNU
//! ld has no symbol ordering. LLD skips the names a build does not have
//! (each section of the list is one build's; see the script). A build that
//! links otherwise by choice sets `BOTFLEET_NO_SYMBOL_ORDER=1`.

use std::process::Command;

fn main() {
    println!("cargo::rerun-if-changed=startup-symbols.txt");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=BOTFLEET_NO_SYMBOL_ORDER");
    let release = std::env::var("PROFILE").as_deref() == Ok("release");
    let target = std::env::var("TARGET").unwrap_or_default();
    let opted_out = std::env::var_os("BOTFLEET_NO_SYMBOL_ORDER").is_some();
    if !release || opted_out || target != "x86_64-unknown-linux-gnu" || !rustc_links_with_lld() {
        return;
    }
    // The linker reads a copy in OUT_DIR: cargo keeps this script's output
    // while the list's time stamp is older than it, also when the same
    // target directory builds a checkout at another path, where a path into
    // the first checkout would no longer exist.
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo"));
    let list = out.join("startup-symbols.txt");
    std::fs::copy("startup-symbols.txt", &list).expect("bot/startup-symbols.txt is readable");
    println!(
        "cargo::rustc-link-arg-bin=botfleet-bot=-Wl,--symbol-ordering-file={}",
        list.display()
    );
    println!("cargo::rustc-link-arg-bin=botfleet-bot=-Wl,--no-warn-symbol-ordering");
}

/// Whether rustc is 1.90 or later, which links x86_64 Linux with its own LLD.
fn rustc_links_with_lld() -> bool {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let Ok(out) = Command::new(rustc).arg("--version").output() else {
        return false;
    };
    // "rustc 1.95.0 (59807616e 2026-04-14)"
    let text = String::from_utf8_lossy(&out.stdout);
    let mut version = text
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .split('.')
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (version.next().unwrap_or(0), version.next().unwrap_or(0));
    (major, minor) >= (1, 90)
}
