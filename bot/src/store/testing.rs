//! Test support (not for the engine): a fresh PostgreSQL database per test on
//! the server `scripts/start-test-postgres.sh` starts. Shared by the store's
//! unit tests, its crash test and the end-to-end crate.
//!
//! Tests read the server URL from `BOTFLEET_TEST_POSTGRES_URL`. When it is unset
//! a PostgreSQL test fails and says how to start the server, unless
//! `BOTFLEET_SKIP_POSTGRES=1` asks to skip PostgreSQL tests explicitly.

use sqlx::{Connection, PgConnection};
use std::sync::atomic::{AtomicU32, Ordering};

pub const POSTGRES_URL_ENV: &str = "BOTFLEET_TEST_POSTGRES_URL";
pub const SKIP_POSTGRES_ENV: &str = "BOTFLEET_SKIP_POSTGRES";

/// The test server's URL, or `None` when PostgreSQL tests are explicitly
/// skipped. Panics, saying how to start the server, when neither is set.
pub fn postgres_url() -> Option<String> {
    match std::env::var(POSTGRES_URL_ENV) {
        Ok(url) if !url.trim().is_empty() => Some(url.trim().to_string()),
        _ if std::env::var(SKIP_POSTGRES_ENV).as_deref() == Ok("1") => {
            eprintln!("{SKIP_POSTGRES_ENV}=1: skipping a PostgreSQL test");
            None
        }
        _ => panic!(
            "{POSTGRES_URL_ENV} is not set, so the PostgreSQL store tests cannot run. Start the test \
             server and export its URL:\n    export {POSTGRES_URL_ENV}=\"$(scripts/start-test-postgres.sh)\"\n\
             (or set {SKIP_POSTGRES_ENV}=1 to skip them on purpose)"
        ),
    }
}

/// A database of its own for one test, dropped (with its connections) when
/// this value is dropped, even if the test panicked.
pub struct TestDatabase {
    /// URL of the fresh database.
    pub url: String,
    server_url: String,
    name: String,
}

impl TestDatabase {
    /// Creates an empty database on the server at `server_url`.
    pub async fn create(server_url: &str) -> TestDatabase {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!(
            "bf_test_{}_{}_{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let mut conn = PgConnection::connect(server_url).await.unwrap_or_else(|e| {
            panic!("connecting to the test PostgreSQL server ({POSTGRES_URL_ENV}): {e}")
        });
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("creating test database {name}: {e}"));
        let _ = conn.close().await;
        TestDatabase {
            url: with_database(server_url, &name),
            server_url: server_url.to_string(),
            name,
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (server_url, name) = (self.server_url.clone(), self.name.clone());
        // Drop may run inside a runtime, which must not block: use a thread
        // with a runtime of its own.
        let dropper = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(mut conn) = PgConnection::connect(&server_url).await {
                    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    let _ = sqlx::query(sqlx::AssertSqlSafe(sql))
                        .execute(&mut conn)
                        .await;
                    let _ = conn.close().await;
                }
            });
        });
        let _ = dropper.join();
    }
}

/// `url` with its database name replaced by `database`.
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{database}?{query}"),
        None => format!("{base}/{database}"),
    }
}
