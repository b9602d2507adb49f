//! No control plane process outlives its test process, however that process ends.
//!
//! Each test runs `cp-crash-probe`, which starts a control plane (held the way the
//! shared one is: no destructor ever runs), prints the component pids and then
//! panics, aborts, or hangs until this test SIGKILLs it.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use botfleet_tests::control_plane::{is_alive, remove_stale_run_dirs};

struct Probe {
    child: Child,
    dir: PathBuf,
    pids: Vec<(String, u32)>,
    /// The probe's stderr (its panic message, the control plane's startup line).
    stderr: tempfile::NamedTempFile,
}

impl Probe {
    fn stderr(&self) -> String {
        std::fs::read_to_string(self.stderr.path()).unwrap_or_default()
    }
}

/// Starts the probe and reads its `dir=… etcd=<pid> kube-apiserver=<pid> …` line.
fn start_probe(mode: &str) -> Probe {
    let stderr = tempfile::NamedTempFile::new().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_cp-crash-probe"))
        .arg(mode)
        .env("RUST_BACKTRACE", "0")
        .stdout(Stdio::piped())
        .stderr(stderr.reopen().unwrap())
        .spawn()
        .expect("running cp-crash-probe");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let log = || std::fs::read_to_string(stderr.path()).unwrap_or_default();
    assert!(
        !line.is_empty(),
        "the probe printed no pids; its stderr:\n{}",
        log()
    );
    let mut dir = None;
    let mut pids = Vec::new();
    for field in line.split_whitespace() {
        let (key, value) = field.split_once('=').expect("key=value");
        match key {
            "dir" => dir = Some(PathBuf::from(value)),
            name => pids.push((name.to_string(), value.parse().expect("a pid"))),
        }
    }
    let names: Vec<&str> = pids.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["etcd", "kube-apiserver", "kube-controller-manager"],
        "probe output: {line:?}; its stderr:\n{}",
        log()
    );
    Probe {
        child,
        dir: dir.expect("the probe prints its run dir"),
        pids,
        stderr,
    }
}

/// Waits (bounded) until none of the probe's components is alive.
fn assert_all_gone(probe: &Probe) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let alive: Vec<_> = probe
            .pids
            .iter()
            .filter(|(_, pid)| is_alive(*pid))
            .collect();
        if alive.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "components still alive 10 s after their test process died: {alive:?}; probe stderr:\n{}",
            probe.stderr()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_panicking_test_process_leaves_no_process_and_no_directory() {
    let mut probe = start_probe("panic");
    let status = probe.child.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(101),
        "the probe must have panicked: {}",
        probe.stderr()
    );
    assert!(
        probe
            .stderr()
            .contains("panicking with a live control plane"),
        "{}",
        probe.stderr()
    );
    assert_all_gone(&probe);
    // A normal exit (which a panic in a test leads to) runs the exit hook, which
    // also removes the run directory.
    assert!(!probe.dir.exists(), "{} left behind", probe.dir.display());
}

#[test]
fn an_aborting_test_process_leaves_no_process() {
    let mut probe = start_probe("abort");
    let status = probe.child.wait().unwrap();
    assert!(
        status.code().is_none(),
        "the probe must have died of a signal: {status}"
    );
    assert_all_gone(&probe);
    // No exit hook runs on abort: the directory stays until a sweep (every start does
    // one, so a probe of a parallel test may already have removed it).
    remove_stale_run_dirs();
    assert!(!probe.dir.exists(), "{} not swept", probe.dir.display());
}

#[test]
fn a_killed_test_process_leaves_no_process() {
    let mut probe = start_probe("hang");
    // The components really run while their test process lives…
    for (name, pid) in &probe.pids {
        assert!(is_alive(*pid), "{name} ({pid}) is not running");
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
        // /proc truncates command names to 15 bytes.
        assert!(
            name.starts_with(comm.trim()),
            "pid {pid} is {comm:?}, not {name}"
        );
    }
    // …and SIGKILL, which no handler can intercept, still takes them down.
    probe.child.kill().unwrap();
    probe.child.wait().unwrap();
    assert_all_gone(&probe);
    remove_stale_run_dirs();
    assert!(!probe.dir.exists(), "{} not swept", probe.dir.display());
}

#[test]
fn missing_binaries_name_the_install_script() {
    let empty = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_cp-crash-probe"))
        .arg("panic")
        .env("BOTFLEET_CONTROL_PLANE_DIR", empty.path())
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let expected = format!("{}/bin/etcd", empty.path().display());
    assert!(stderr.contains(&expected), "{stderr}");
    assert!(
        stderr.contains("run `scripts/install-control-plane.sh`"),
        "{stderr}"
    );
}
