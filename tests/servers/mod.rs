//! Real database servers for the store tests, started on free local ports in
//! temporary directories.
//!
//! The helpers here are shared by every engine:
//!
//! - [`free_port`] and [`TempDir`]: where a server listens and keeps its files.
//! - [`find_binary`] and [`binary_missing`]: the missing-binary policy. Outside
//!   CI a missing server binary is reported loudly on stderr and the test
//!   returns; under `CI=true` it is a test failure.
//! - [`Reaper`]: a watchdog that stops a server and removes its directory when
//!   the handle is dropped *or* when the test process exits in any way (a
//!   server kept in a `static` is never dropped, and a test binary can be
//!   killed), so no server outlives its test run.
//! - [`wait_until`] and [`unique_name`]: readiness polling and a fresh
//!   table/prefix name per test.
//!
//! Each engine has its own module with a `start()` for an owned handle and a
//! shared, lazily started server per test binary.

pub mod postgres;
pub mod redis;
pub mod redis_cluster;

use std::fs;
use std::io;
use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Whether the tests run under CI (`CI=true` or `CI=1`), where a missing
/// server binary fails the test instead of skipping it.
pub fn under_ci() -> bool {
    matches!(
        std::env::var("CI")
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Ok("true" | "1" | "yes")
    )
}

/// Why a server did not start.
#[derive(Debug)]
pub enum StartError {
    /// The binaries are not installed (already reported by
    /// [`binary_missing`], which panics under CI).
    Missing,
    /// They are installed but the server did not come up.
    Failed(String),
}

/// The server shared by the tests of one test binary, started on first use
/// by `start`; `None` when `binary` is not installed (reported loudly on
/// every call; a failure under `CI=true`).
///
/// # Panics
///
/// If the server is installed but does not start.
#[track_caller]
pub fn shared<T: Sync>(
    cell: &'static OnceLock<Option<T>>,
    start: fn() -> Result<T, StartError>,
    binary: &str,
    install: &str,
) -> Option<&'static T> {
    let mut reported = false;
    let shared = cell.get_or_init(|| match start() {
        Ok(server) => Some(server),
        Err(StartError::Missing) => {
            reported = true;
            None
        }
        Err(StartError::Failed(why)) => panic!("{why}"),
    });
    if shared.is_none() && !reported {
        binary_missing(binary, install);
    }
    shared.as_ref()
}

/// The missing-binary policy: panics under CI, otherwise prints a loud
/// notice on stderr so the caller can return. `install` says how to get it.
#[track_caller]
pub fn binary_missing(binary: &str, install: &str) {
    let message = format!(
        "`{binary}` was not found, so this test against the real server cannot run; \
         install it with `{install}` (`.ci/run` does this on a clean machine)"
    );
    if under_ci() {
        panic!("{message} (CI=true: a missing server is a failure)");
    }
    eprintln!("\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!");
    eprintln!("!!! SKIPPED: {message}");
    eprintln!("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n");
}

/// Looks for an executable named `binary` on `PATH`, then in each of
/// `extra_dirs`. A dir may end in `/*/bin`-style patterns: a `*` component
/// matches every entry of its parent, newest-looking (highest sorted) first,
/// as in `/usr/lib/postgresql/*/bin`.
pub fn find_binary(binary: &str, extra_dirs: &[&str]) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect())
        .unwrap_or_default();
    for pattern in extra_dirs {
        dirs.extend(expand_star(Path::new(pattern)));
    }
    dirs.into_iter()
        .map(|dir| dir.join(binary))
        .find(|candidate| is_executable(candidate))
}

fn expand_star(pattern: &Path) -> Vec<PathBuf> {
    let mut out = vec![PathBuf::new()];
    for component in pattern.components() {
        let part = component.as_os_str();
        if part == "*" {
            out = out
                .iter()
                .flat_map(|base| {
                    let mut entries: Vec<PathBuf> = fs::read_dir(base)
                        .into_iter()
                        .flatten()
                        .flatten()
                        .map(|entry| entry.path())
                        .collect();
                    // Highest version first: "16" before "15" (by number when
                    // the names are numbers).
                    entries.sort_by_key(|p| {
                        let name = p.file_name().unwrap_or_default().to_string_lossy();
                        (name.parse::<u64>().ok(), name.into_owned())
                    });
                    entries.reverse();
                    entries
                })
                .collect();
        } else {
            for base in &mut out {
                base.push(part);
            }
        }
    }
    out
}

fn is_executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|meta| meta.is_file() && meta.mode() & 0o111 != 0)
}

/// Whether this process runs as root (servers such as PostgreSQL refuse to).
pub fn running_as_root() -> bool {
    // The owner of /proc/self is the process's effective uid.
    fs::metadata("/proc/self").is_ok_and(|meta| meta.uid() == 0)
}

/// The uid and gid of a system user, read from `/etc/passwd`.
pub fn user_ids(user: &str) -> Option<(u32, u32)> {
    let passwd = fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        if fields.next()? != user {
            return None;
        }
        let _password = fields.next()?;
        let uid = fields.next()?.parse().ok()?;
        let gid = fields.next()?.parse().ok()?;
        Some((uid, gid))
    })
}

/// A free TCP port on 127.0.0.1 (the OS picks one; there is a small window in
/// which another process could take it, so servers retry on a bind failure).
pub fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port())
}

/// A name unique within this test process and across concurrent test
/// processes: `{prefix}_{pid}_{n}`, made of `[a-z0-9_]` (a valid SQL
/// identifier and Redis key prefix when `prefix` is one).
pub fn unique_name(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Polls `ready` every 25 ms until it returns true or `timeout` passes;
/// returns whether it became ready.
pub fn wait_until(timeout: Duration, mut ready: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if ready() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// A fresh directory under the system temp dir, removed (with its contents)
/// on drop.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates `{tmp}/schema-migrate-{label}-{pid}-{n}`.
    pub fn new(label: &str) -> io::Result<TempDir> {
        let path = std::env::temp_dir().join(unique_name(&format!("schema-migrate-{label}")));
        fs::create_dir_all(&path)?;
        Ok(TempDir { path })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Gives the directory up without removing it (for a [`Reaper`] to
    /// remove instead).
    pub fn keep(self) -> PathBuf {
        let path = self.path.clone();
        std::mem::forget(self);
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // Best effort: a leftover temp dir must not fail a test.
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// A watchdog process that runs a shell `cleanup` script (stop the server,
/// remove its directory) when this handle is dropped or when the test process
/// exits for any reason, even SIGKILL.
///
/// It is `sh` waiting for end-of-file on a pipe whose only writer is this
/// process; the kernel closes the pipe when the process dies. Dropping the
/// handle closes the pipe too and waits for the cleanup to finish.
#[derive(Debug)]
pub struct Reaper {
    watchdog: Child,
    pipe: Option<ChildStdin>,
}

impl Reaper {
    /// Starts the watchdog. `cleanup` runs under `sh -c` with interrupts
    /// ignored, so a Ctrl-C of the test run still cleans up.
    pub fn spawn(cleanup: &str) -> io::Result<Reaper> {
        let script = format!("trap '' INT HUP TERM; cat >/dev/null; {cleanup}");
        let mut watchdog = Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()?;
        let pipe = watchdog.stdin.take();
        Ok(Reaper { watchdog, pipe })
    }
}

impl Drop for Reaper {
    fn drop(&mut self) {
        drop(self.pipe.take());
        let _ = self.watchdog.wait();
    }
}

/// Quotes `text` for a POSIX shell.
pub fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// Runs `command` to completion; an error carries its stderr and stdout.
pub fn run(command: &mut Command) -> Result<(), String> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{command:?}: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{command:?} exited with {}:\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stderr),
            String::from_utf8_lossy(&output.stdout)
        ))
    }
}
