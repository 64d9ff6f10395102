//! A real Redis server in a temp dir: `redis-server` on a free local port,
//! persistence off (the crash tests kill the client, never the server).

use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use super::{
    binary_missing, find_binary, free_port, shared, shell_quote, wait_until, Reaper, StartError,
    TempDir,
};

/// How to install the server, for the missing-binary notice.
pub const INSTALL: &str = "apt-get install -y redis-server";

/// Where `redis-server` may live besides `PATH`.
const SEARCH: &[&str] = &["/usr/bin", "/usr/local/bin", "/usr/sbin"];

/// How long a server may take to answer its first PING.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// A running Redis server. Dropping it stops the server and removes its
/// directory; so does the test process exiting in any way.
#[derive(Debug)]
pub struct Redis {
    url: String,
    port: u16,
    dir: PathBuf,
    server: Child,
    cli: Option<PathBuf>,
    reaper: Option<Reaper>,
}

impl Redis {
    /// Starts a fresh server on a free port in a new temp dir, retried on a
    /// new port if the first is taken meanwhile.
    pub fn start() -> Result<Redis, StartError> {
        Redis::start_with(Vec::new)
    }

    /// Like [`Redis::start`], with more command-line arguments for the
    /// server, made anew for each attempt (a cluster node takes a second,
    /// free port for its bus).
    pub fn start_with(extra: impl Fn() -> Vec<String>) -> Result<Redis, StartError> {
        let Some(binary) = find_binary("redis-server", SEARCH) else {
            binary_missing("redis-server", INSTALL);
            return Err(StartError::Missing);
        };
        let cli = binary
            .parent()
            .map(|dir| dir.join("redis-cli"))
            .filter(|cli| cli.exists())
            .or_else(|| find_binary("redis-cli", SEARCH));
        let failed =
            |what: &str, e: &dyn std::fmt::Display| StartError::Failed(format!("{what}: {e}"));

        let mut last_error = String::new();
        for _attempt in 0..3 {
            let temp = TempDir::new("redis").map_err(|e| failed("temp dir", &e))?;
            let port = free_port().map_err(|e| failed("free port", &e))?;
            let log = temp.path().join("server.log");
            let mut server = Command::new(&binary)
                .args(["--port", &port.to_string()])
                .args(["--bind", "127.0.0.1"])
                .args(["--save", ""])
                .args(["--appendonly", "no"])
                .arg("--dir")
                .arg(temp.path())
                .arg("--logfile")
                .arg(&log)
                .args(["--daemonize", "no"])
                .args(extra())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .map_err(|e| failed(&format!("spawn {}", binary.display()), &e))?;
            let dir = temp.keep();
            // From here on the watchdog owns the server and the directory,
            // even if this process is killed.
            let reaper = match Reaper::spawn(&cleanup_script(server.id(), &dir)) {
                Ok(reaper) => reaper,
                Err(e) => {
                    let _ = server.kill();
                    let _ = server.wait();
                    let _ = fs::remove_dir_all(&dir);
                    return Err(failed("watchdog", &e));
                }
            };
            let ready = wait_until(READY_TIMEOUT, || {
                matches!(server.try_wait(), Ok(None)) && ping(port)
            });
            if ready {
                return Ok(Redis {
                    url: format!("redis://127.0.0.1:{port}/"),
                    port,
                    dir,
                    server,
                    cli,
                    reaper: Some(reaper),
                });
            }
            last_error = format!(
                "no PONG on port {port} within {READY_TIMEOUT:?}; server log:\n{}",
                fs::read_to_string(&log).unwrap_or_default()
            );
            // The watchdog stops the server while it is still this process's
            // child (alive or a zombie), so its pid cannot have been reused.
            drop(reaper);
            let _ = server.kill();
            let _ = server.wait();
        }
        Err(StartError::Failed(format!(
            "redis-server did not start (3 attempts): {last_error}"
        )))
    }

    /// The connection URL, `redis://127.0.0.1:PORT/`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's log so far (for failure messages).
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    /// Runs one command with `redis-cli` (for tests that look under the
    /// store or write behind its back) and returns its raw output.
    ///
    /// # Panics
    ///
    /// If `redis-cli` is missing or fails.
    #[track_caller]
    pub fn cli(&self, args: &[&str]) -> String {
        let cli = self
            .cli
            .as_ref()
            .unwrap_or_else(|| panic!("redis-cli is not installed next to redis-server"));
        let output = Command::new(cli)
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("redis-cli {args:?}: {e}"));
        assert!(
            output.status.success(),
            "redis-cli {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        // The watchdog stops the server and removes the directory while the
        // server is still this process's child (alive or a zombie), so its
        // pid cannot have been reused; then reap it.
        drop(self.reaper.take());
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

/// Whether a Redis server on `port` answers PING.
fn ping(port: u16) -> bool {
    let attempt = || -> std::io::Result<bool> {
        let mut stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(Duration::from_secs(1)))?;
        stream.write_all(b"PING\r\n")?;
        let mut reply = [0; 7];
        stream.read_exact(&mut reply)?;
        Ok(&reply == b"+PONG\r\n")
    };
    attempt().unwrap_or(false)
}

/// Kills the server `pid` (TERM, then KILL after 5 s) and removes `dir`.
///
/// The pid is only signalled while it is a `redis-server` (after the test
/// process died, a server that had exited on its own may have been reaped
/// and its pid reused). A zombie counts as gone.
fn cleanup_script(pid: u32, dir: &Path) -> String {
    let dir = shell_quote(&dir.display().to_string());
    format!(
        r#"pid={pid}
alive() {{
  case "$(tr '\0' ' ' </proc/$pid/cmdline 2>/dev/null)" in
    *redis-server*) return 0 ;;
    *) return 1 ;;
  esac
}}
if alive; then
  kill -TERM "$pid" 2>/dev/null
  i=0
  while alive; do
    i=$((i + 1))
    if [ "$i" -ge 100 ]; then kill -KILL "$pid" 2>/dev/null; break; fi
    sleep 0.05
  done
fi
rm -rf {dir}"#
    )
}

/// The server shared by the tests of one test binary, started on first use;
/// `None` when Redis is not installed (reported loudly on every call; a
/// failure under `CI=true`). Use a fresh prefix per test
/// ([`super::unique_name`]).
///
/// # Panics
///
/// If Redis is installed but does not start.
#[track_caller]
pub fn redis() -> Option<&'static Redis> {
    static SHARED: OnceLock<Option<Redis>> = OnceLock::new();
    shared(&SHARED, Redis::start, "redis-server", INSTALL)
}
