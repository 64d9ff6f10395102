//! The PostgreSQL store against a real server started by the test harness.

use schema_migrate_tests::servers::{self, postgres::Postgres, postgres::StartError};

/// The harness itself: a server starts, answers queries, and dropping the
/// handle stops it and removes its directory.
#[test]
fn harness_starts_and_stops_a_server() {
    let server = match Postgres::start() {
        Ok(server) => server,
        Err(StartError::Missing) => return,
        Err(StartError::Failed(why)) => panic!("{why}"),
    };
    let psql = servers::find_binary("psql", &["/usr/lib/postgresql/*/bin"]).expect("psql next to initdb");
    let output = std::process::Command::new(psql)
        .args(["-At", "-c", "SELECT 40 + 2", server.url()])
        .output()
        .expect("psql runs");
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "42", "{}", server.log());
    let port = server.port();
    drop(server);
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the server still listens on {port} after drop"
    );
}
