//! A real Redis Cluster of three masters (no replicas) on free loopback
//! ports: three `redis-server --cluster-enabled yes` nodes, each a
//! [`Redis`] in its own temp dir, joined by `redis-cli --cluster create`.
//! Dropping the handle stops every node and removes their directories; so
//! does the test process exiting in any way (each node has its watchdog).

use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use super::redis::{Redis, INSTALL};
use super::{free_port, run, shared, wait_until, StartError};

/// How many masters the cluster has.
pub const MASTERS: usize = 3;

/// How long the cluster may take to agree on its slots after `create`.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A running cluster of [`MASTERS`] masters.
#[derive(Debug)]
pub struct RedisCluster {
    nodes: Vec<Redis>,
    url: String,
}

impl RedisCluster {
    /// Starts the nodes, creates the cluster, and waits until every node
    /// says `cluster_state:ok`.
    pub fn start() -> Result<RedisCluster, StartError> {
        let mut nodes = Vec::with_capacity(MASTERS);
        for _ in 0..MASTERS {
            nodes.push(Redis::start_with(|| {
                // The bus port is the port + 10000 unless set: take a free one.
                // (0, if no port is free: the default.)
                let bus = free_port().unwrap_or(0);
                vec![
                    "--cluster-enabled".into(),
                    "yes".into(),
                    "--cluster-config-file".into(),
                    "nodes.conf".into(),
                    "--cluster-port".into(),
                    bus.to_string(),
                ]
            })?);
        }
        let addresses: Vec<String> = nodes
            .iter()
            .map(|node| format!("127.0.0.1:{}", node.port()))
            .collect();
        let cli = cli_binary()?;
        run(Command::new(&cli)
            .args(["--cluster", "create"])
            .args(&addresses)
            .args(["--cluster-replicas", "0", "--cluster-yes"]))
        .map_err(StartError::Failed)?;
        let cluster = RedisCluster {
            url: format!("redis+cluster://{}", addresses.join(",")),
            nodes,
        };
        let ready = wait_until(READY_TIMEOUT, || {
            cluster.nodes.iter().all(|node| {
                try_cli(&cli, node.port(), &["CLUSTER", "INFO"])
                    .is_some_and(|info| info.contains("cluster_state:ok"))
            })
        });
        if !ready {
            return Err(StartError::Failed(format!(
                "the cluster {} did not reach cluster_state:ok within {READY_TIMEOUT:?}:\n{}",
                cluster.url,
                cluster.log()
            )));
        }
        Ok(cluster)
    }

    /// The store URL, `redis+cluster://127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The nodes (each a master), in the order of the URL.
    pub fn nodes(&self) -> &[Redis] {
        &self.nodes
    }

    /// Every node's log so far (for failure messages).
    pub fn log(&self) -> String {
        self.nodes
            .iter()
            .map(|node| format!("--- node {}:\n{}", node.port(), node.log()))
            .collect()
    }

    /// Runs one command with `redis-cli -c` (following redirections, as
    /// another program would) against the first node, and returns its raw
    /// output.
    ///
    /// # Panics
    ///
    /// If `redis-cli` is missing or fails.
    #[track_caller]
    pub fn cli(&self, args: &[&str]) -> String {
        let mut all = vec!["-c"];
        all.extend_from_slice(args);
        self.nodes[0].cli(&all)
    }

    /// The index in [`RedisCluster::nodes`] of the master serving `key`.
    ///
    /// # Panics
    ///
    /// If no node serves the key's slot.
    #[track_caller]
    pub fn master_of(&self, key: &str) -> usize {
        let slot: u16 = self
            .cli(&["CLUSTER", "KEYSLOT", key])
            .trim()
            .parse()
            .expect("CLUSTER KEYSLOT answers a number");
        // `CLUSTER SHARDS` would be neater; `CLUSTER NODES` is in every 7.x.
        let nodes = self.cli(&["CLUSTER", "NODES"]);
        for line in nodes.lines() {
            let fields: Vec<&str> = line.split(' ').collect();
            if fields.len() < 9 || !fields[2].contains("master") {
                continue;
            }
            let serves = fields[8..].iter().any(|range| {
                let (start, end) = range.split_once('-').unwrap_or((range, range));
                match (start.parse::<u16>(), end.parse::<u16>()) {
                    (Ok(start), Ok(end)) => (start..=end).contains(&slot),
                    _ => false,
                }
            });
            if serves {
                let port: u16 = fields[1]
                    .split(['@', ':'])
                    .nth(1)
                    .and_then(|port| port.parse().ok())
                    .expect("CLUSTER NODES gives host:port@bus");
                if let Some(index) = self.nodes.iter().position(|node| node.port() == port) {
                    return index;
                }
            }
        }
        panic!("no master serves slot {slot} of {key:?}:\n{nodes}");
    }
}

/// `redis-cli`, next to `redis-server` or on the search path.
fn cli_binary() -> Result<std::path::PathBuf, StartError> {
    super::find_binary("redis-cli", &["/usr/bin", "/usr/local/bin", "/usr/sbin"]).ok_or_else(|| {
        super::binary_missing("redis-cli", INSTALL);
        StartError::Missing
    })
}

/// One `redis-cli` command against a node, `None` if it fails.
fn try_cli(cli: &std::path::Path, port: u16, args: &[&str]) -> Option<String> {
    let output = Command::new(cli)
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The cluster shared by the tests of one test binary, started on first
/// use; `None` when Redis is not installed (reported loudly on every call;
/// a failure under `CI=true`). Use a fresh prefix per test
/// ([`super::unique_name`]).
///
/// # Panics
///
/// If Redis is installed but the cluster does not start.
#[track_caller]
pub fn redis_cluster() -> Option<&'static RedisCluster> {
    static SHARED: OnceLock<Option<RedisCluster>> = OnceLock::new();
    shared(&SHARED, RedisCluster::start, "redis-server", INSTALL)
}
