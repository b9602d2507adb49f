//! Component processes that can never outlive the test process.
//!
//! Three layers, because Rust runs no destructor for a `static` and a test binary can
//! die in every possible way:
//! 1. Every component is forked by one dedicated, never-exiting thread with
//!    `PR_SET_PDEATHSIG = SIGKILL`: the kernel kills it when that thread dies, i.e.
//!    when the test process dies for any reason (panic, abort, SIGKILL, OOM).
//!    (The signal follows the forking *thread*, so forking from a test's own thread
//!    would kill the component as soon as that one test finished.)
//! 2. An `atexit` hook kills and reaps the components and removes their run
//!    directories on a normal exit (all tests done, or a failing test binary exiting).
//! 3. Run directories are named after the owning pid; a new run removes those whose
//!    owner is gone (left behind by an abort, where no `atexit` hook runs).

use std::collections::VecDeque;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};

use anyhow::{Context, Result, anyhow};

type SpawnJob = (Command, mpsc::Sender<io::Result<Child>>);

/// The thread that forks every component; it lives as long as the process.
fn spawner() -> &'static Mutex<mpsc::Sender<SpawnJob>> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<SpawnJob>>> = OnceLock::new();
    SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnJob>();
        std::thread::Builder::new()
            .name("botfleet-control-plane-spawner".into())
            .spawn(move || {
                for (mut command, reply) in rx {
                    let _ = reply.send(command.spawn());
                }
                // The senders live in a static and are never dropped, so this thread
                // only ends with the process. Should that ever change, park instead of
                // returning: returning would SIGKILL every component at once.
                loop {
                    std::thread::park();
                }
            })
            .expect("starting the control plane spawner thread");
        install_exit_hook();
        Mutex::new(tx)
    })
}

/// What the `atexit` hook must clean up: live component pids and run directories.
#[derive(Default)]
struct Registry {
    pids: Vec<u32>,
    dirs: Vec<PathBuf>,
}

fn registry() -> &'static Mutex<Registry> {
    static REGISTRY: OnceLock<Mutex<Registry>> = OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}

fn install_exit_hook() {
    extern "C" fn on_exit() {
        // try_lock: a thread frozen mid-update must not deadlock the exit; PDEATHSIG
        // still kills the components in that case.
        if let Ok(mut reg) = registry().try_lock() {
            for pid in reg.pids.drain(..) {
                kill_and_reap(pid);
            }
            for dir in reg.dirs.drain(..) {
                let _ = fs::remove_dir_all(dir);
            }
        }
    }
    // SAFETY: registering a plain extern "C" function with no arguments.
    unsafe {
        libc::atexit(on_exit);
    }
}

fn kill_and_reap(pid: u32) {
    // SAFETY: plain syscalls on a pid this process spawned and has not reaped yet
    // (pids are removed from the registry before `Child::wait` reaps them).
    unsafe {
        libc::kill(pid as libc::pid_t, libc::SIGKILL);
        libc::waitpid(pid as libc::pid_t, std::ptr::null_mut(), 0);
    }
}

/// Registers a run directory for removal at exit.
pub fn register_dir(dir: &Path) {
    registry().lock().unwrap().dirs.push(dir.to_owned());
}

/// Forgets a run directory (the caller removes it itself).
pub fn unregister_dir(dir: &Path) {
    registry().lock().unwrap().dirs.retain(|d| d != dir);
}

/// One running component (etcd, kube-apiserver, kube-controller-manager).
#[derive(Debug)]
pub struct Component {
    pub name: &'static str,
    pub pid: u32,
    pub log: PathBuf,
    child: Mutex<Option<Child>>,
}

impl Component {
    /// Starts `binary args…` with stdout and stderr appended to `log`.
    pub fn spawn(name: &'static str, binary: &Path, args: &[String], log: PathBuf) -> Result<Self> {
        let out = File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let err = out.try_clone()?;
        let mut command = Command::new(binary);
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        let parent = std::process::id();
        // SAFETY: the closure only makes async-signal-safe syscalls (prctl, getppid).
        unsafe {
            command.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
                    return Err(io::Error::last_os_error());
                }
                // The parent may have died between fork and prctl: then nobody would
                // ever send the signal, so refuse to start.
                if libc::getppid() as u32 != parent {
                    return Err(io::Error::other("test process died during spawn"));
                }
                Ok(())
            });
        }
        let (reply_tx, reply_rx) = mpsc::channel();
        spawner()
            .lock()
            .unwrap()
            .send((command, reply_tx))
            .map_err(|_| anyhow!("the control plane spawner thread is gone"))?;
        let child = reply_rx
            .recv()
            .map_err(|_| anyhow!("the control plane spawner thread is gone"))?
            .with_context(|| format!("starting {name} ({})", binary.display()))?;
        let pid = child.id();
        registry().lock().unwrap().pids.push(pid);
        Ok(Component {
            name,
            pid,
            log,
            child: Mutex::new(Some(child)),
        })
    }

    /// `Some(status)` once the process has exited.
    pub fn exit_status(&self) -> Option<String> {
        let mut guard = self.child.lock().unwrap();
        match guard.as_mut().map(Child::try_wait) {
            None => Some("stopped by the fixture".into()),
            Some(Ok(Some(status))) => {
                // Reaped: the pid may be reused now, so the exit hook must forget it.
                registry().lock().unwrap().pids.retain(|&p| p != self.pid);
                Some(status.to_string())
            }
            Some(Ok(None)) => None,
            Some(Err(e)) => Some(format!("unknown ({e})")),
        }
    }

    /// Kills the process (SIGKILL: its state is thrown away anyway) and reaps it.
    pub fn stop(&self) {
        let Some(mut child) = self.child.lock().unwrap().take() else {
            return;
        };
        registry().lock().unwrap().pids.retain(|&p| p != self.pid);
        let _ = child.kill();
        let _ = child.wait();
    }

    /// The last `lines` lines of the component's log, for error messages.
    pub fn log_tail(&self, lines: usize) -> String {
        log_tail(&self.log, lines)
    }
}

impl Drop for Component {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The last `lines` lines of a file, or a note saying why it could not be read.
pub fn log_tail(path: &Path, lines: usize) -> String {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) => return format!("(cannot read {}: {e})", path.display()),
    };
    let mut tail = VecDeque::with_capacity(lines);
    for line in BufReader::new(file).lines().map_while(Result::ok) {
        if tail.len() == lines {
            tail.pop_front();
        }
        tail.push_back(line);
    }
    Vec::from(tail).join("\n")
}

/// Whether a process exists and is not a zombie.
pub fn is_alive(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state is the first field after the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// Removes the run directories under `base` whose owning process is gone (left
/// behind when a test binary aborted or was killed) and returns them.
pub fn remove_stale_run_dirs(base: &Path) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    for entry in fs::read_dir(base).into_iter().flatten().flatten() {
        let name = entry.file_name();
        let owner = name
            .to_str()
            .and_then(|n| n.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok());
        if owner.is_some_and(|pid| !is_alive(pid)) && fs::remove_dir_all(entry.path()).is_ok() {
            removed.push(entry.path());
        }
    }
    removed
}

/// Creates this run's directory under `base`, named `<pid>-<n>`, after removing the
/// directories of earlier runs whose process is gone.
pub fn create_run_dir(base: &Path) -> Result<PathBuf> {
    fs::create_dir_all(base).with_context(|| format!("creating {}", base.display()))?;
    remove_stale_run_dirs(base);
    for n in 0.. {
        let dir = base.join(format!("{}-{n}", std::process::id()));
        match fs::create_dir(&dir) {
            Ok(()) => {
                register_dir(&dir);
                return Ok(dir);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).with_context(|| format!("creating {}", dir.display())),
        }
    }
    unreachable!()
}
