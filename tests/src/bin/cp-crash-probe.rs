//! Starts a control plane, prints its component pids, then dies the way its argument
//! says (`panic`, `abort`, or `hang` until killed). The teardown test runs it and
//! checks that no component outlives it.

use std::io::Write;

use botfleet_tests::control_plane::ControlPlane;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    if !["panic", "abort", "hang"].contains(&mode.as_str()) {
        eprintln!("usage: cp-crash-probe panic|abort|hang");
        std::process::exit(2);
    }
    // The very `static` a test binary shares: no destructor ever runs for it.
    let cp: &'static ControlPlane = ControlPlane::shared_with(|b| b.without_crds()).await;
    let pids: Vec<String> = cp
        .pids()
        .iter()
        .map(|(name, pid)| format!("{name}={pid}"))
        .collect();
    println!("dir={} {}", cp.dir().display(), pids.join(" "));
    std::io::stdout().flush().unwrap();
    match mode.as_str() {
        "panic" => panic!("cp-crash-probe: panicking with a live control plane"),
        "abort" => std::process::abort(),
        _ => loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        },
    }
}
