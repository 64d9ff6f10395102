//! A real PostgreSQL server in a temp dir: `initdb` + `pg_ctl` on a free
//! local port, trust auth on 127.0.0.1, durability settings off for speed
//! (the crash tests kill the client, never the server).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use super::{
    binary_missing, find_binary, free_port, run, running_as_root, shared, shell_quote, user_ids,
    Reaper, StartError, TempDir,
};

/// How to install the server, for the missing-binary notice.
pub const INSTALL: &str = "apt-get install -y postgresql";

/// Where PostgreSQL's binaries live besides `PATH` (Debian keeps them under a
/// versioned directory that is not on `PATH`).
const SEARCH: &[&str] = &[
    "/usr/lib/postgresql/*/bin",
    "/usr/local/pgsql/bin",
    "/usr/pgsql-*/bin",
];

/// The OS user that runs the server when the tests run as root (PostgreSQL
/// refuses to run as root); Debian's package creates it.
const SERVER_USER: &str = "postgres";

/// A running PostgreSQL server. Dropping it stops the server and removes its
/// directory; so does the test process exiting in any way.
#[derive(Debug)]
pub struct Postgres {
    url: String,
    port: u16,
    dir: PathBuf,
    bin: PathBuf,
    _reaper: Reaper,
}

impl Postgres {
    /// Starts a fresh server: `initdb` in a new temp dir, then `pg_ctl start`
    /// on a free port, retried on a new port if the first is taken meanwhile.
    pub fn start() -> Result<Postgres, StartError> {
        let Some(initdb) = find_binary("initdb", SEARCH) else {
            binary_missing("initdb", INSTALL);
            return Err(StartError::Missing);
        };
        // Resolve symlinks (/usr/local/bin/initdb -> /usr/lib/postgresql/15/bin)
        // so pg_ctl is the one of the same version.
        let bin = fs::canonicalize(&initdb)
            .ok()
            .and_then(|path| path.parent().map(Path::to_path_buf))
            .ok_or_else(|| StartError::Failed(format!("no directory for {}", initdb.display())))?;
        let pg_ctl = bin.join("pg_ctl");
        if !pg_ctl.exists() {
            binary_missing("pg_ctl", INSTALL);
            return Err(StartError::Missing);
        }
        let failed =
            |what: &str, e: &dyn std::fmt::Display| StartError::Failed(format!("{what}: {e}"));

        let as_user = if running_as_root() {
            let (uid, gid) = user_ids(SERVER_USER).ok_or_else(|| {
                StartError::Failed(format!(
                    "running as root, and PostgreSQL refuses to run as root, but there is no \
                     `{SERVER_USER}` user to run it as (it comes with `{INSTALL}`)"
                ))
            })?;
            Some((uid, gid))
        } else {
            None
        };

        let temp = TempDir::new("pg").map_err(|e| failed("temp dir", &e))?;
        if let Some((uid, gid)) = as_user {
            std::os::unix::fs::chown(temp.path(), Some(uid), Some(gid))
                .map_err(|e| failed("chown of the temp dir", &e))?;
        }
        let dir = temp.keep();
        let data = dir.join("data");
        let log = dir.join("server.log");
        // From here on the watchdog owns the directory: it stops whatever
        // server wrote its pid file there, then removes everything.
        let reaper = Reaper::spawn(&cleanup_script(&dir)).map_err(|e| failed("watchdog", &e))?;

        let command = |program: &Path| {
            if as_user.is_some() {
                let mut command = Command::new("runuser");
                command.args(["-u", SERVER_USER, "--"]).arg(program);
                command
            } else {
                Command::new(program)
            }
        };

        run(command(&initdb).arg("-D").arg(&data).args([
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ]))
        .map_err(StartError::Failed)?;

        let mut last_error = String::new();
        for _attempt in 0..3 {
            let port = free_port().map_err(|e| failed("free port", &e))?;
            let options = format!(
                "-c listen_addresses=127.0.0.1 -p {port} -k {} -c fsync=off \
                 -c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
                dir.display()
            );
            let started = run(command(&pg_ctl)
                .arg("-D")
                .arg(&data)
                .arg("-l")
                .arg(&log)
                .args(["-w", "-t", "60", "-o", &options, "start"]));
            match started {
                Ok(()) => {
                    return Ok(Postgres {
                        url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
                        port,
                        dir,
                        bin,
                        _reaper: reaper,
                    })
                }
                Err(e) => {
                    let server_log = fs::read_to_string(&log).unwrap_or_default();
                    last_error = format!("{e}\nserver log:\n{server_log}");
                }
            }
        }
        Err(StartError::Failed(format!(
            "PostgreSQL did not start (3 attempts): {last_error}"
        )))
    }

    /// The connection URL, e.g. `postgres://postgres@127.0.0.1:PORT/postgres`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The `psql` of this server's version.
    pub fn psql_binary(&self) -> PathBuf {
        self.bin.join("psql")
    }

    /// Runs `sql` with `psql` (unaligned, tuples only) and returns its
    /// output: a look at the table from outside the store.
    pub fn psql(&self, sql: &str) -> Result<String, String> {
        let output = Command::new(self.bin.join("psql"))
            .args(["-X", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql, &self.url])
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| format!("psql: {e}"))?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout)
                .trim_end()
                .to_owned())
        } else {
            Err(format!(
                "psql -c {sql:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            ))
        }
    }

    /// Restarts the server (fast shutdown: every client's connection is cut,
    /// as in a failover or an upgrade) on the same port and data.
    pub fn restart(&self) -> Result<(), String> {
        let pg_ctl = self.bin.join("pg_ctl");
        let mut command = if running_as_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", SERVER_USER, "--"]).arg(&pg_ctl);
            command
        } else {
            Command::new(&pg_ctl)
        };
        run(command
            .arg("-D")
            .arg(self.dir.join("data"))
            .arg("-l")
            .arg(self.dir.join("server.log"))
            .args(["-w", "-t", "60", "-m", "fast", "restart"]))
    }

    /// The server's log so far (for failure messages).
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }
}

/// Stops the server whose pid file is in `dir/data` (fast shutdown, then
/// SIGKILL after 10 s) and removes `dir`.
fn cleanup_script(dir: &Path) -> String {
    let dir = shell_quote(&dir.display().to_string());
    format!(
        r#"pidfile={dir}/data/postmaster.pid
if [ -f "$pidfile" ]; then
  pid=$(head -n 1 "$pidfile")
  kill -INT "$pid" 2>/dev/null
  i=0
  while kill -0 "$pid" 2>/dev/null; do
    i=$((i + 1))
    if [ "$i" -ge 200 ]; then kill -KILL "$pid" 2>/dev/null; break; fi
    sleep 0.05
  done
fi
rm -rf {dir}"#
    )
}

/// The server shared by the tests of one test binary, started on first use;
/// `None` when PostgreSQL is not installed (reported loudly on every call;
/// a failure under `CI=true`). Use a fresh table per test
/// ([`super::unique_name`]).
///
/// # Panics
///
/// If PostgreSQL is installed but does not start.
#[track_caller]
pub fn postgres() -> Option<&'static Postgres> {
    static SHARED: OnceLock<Option<Postgres>> = OnceLock::new();
    shared(&SHARED, Postgres::start, "initdb", INSTALL)
}
