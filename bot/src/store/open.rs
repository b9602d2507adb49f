//! Opening a store: connection settings, the single-writer lock, migrations.

use super::error::{Result, StoreError};
use super::{Backend, Db, OpenOptions};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, PgConnection};
use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// How long SQLite waits on its own file locks (a checkpoint, a reader) before
/// reporting "database is locked".
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// One engine writes; a few connections let readers (status, reports) run
/// beside it under WAL.
const MAX_CONNECTIONS: u32 = 4;

/// The single-writer lock, held for the store's lifetime.
pub(crate) enum Guard {
    /// An exclusive `flock` on `<db>.lock`; the OS drops it when the process dies.
    File(#[allow(dead_code)] File),
    /// The connection holding `pg_advisory_lock`; closing it releases the lock.
    Postgres(std::sync::Mutex<Option<PgConnection>>),
}

impl Guard {
    pub(crate) async fn release(self) {
        if let Guard::Postgres(conn) = self {
            let conn = conn.into_inner().ok().flatten();
            if let Some(conn) = conn {
                let _ = conn.close().await;
            }
        }
    }
}

pub(crate) async fn sqlite(path: &Path, options: &OpenOptions) -> Result<(Db, Guard)> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.is_dir() {
        return Err(StoreError::MissingDirectory(dir));
    }
    let mut lock_path = path.as_os_str().to_owned();
    lock_path.push(".lock");
    let lock_path = PathBuf::from(lock_path);
    let io = |what: &'static str, path: &Path| {
        let path = path.to_path_buf();
        move |source| StoreError::Io { what, path, source }
    };
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(io("creating the lock file", &lock_path))?;
    let what = format!(
        "SQLite store {} (lock file {})",
        path.display(),
        lock_path.display()
    );
    wait_for_lock(&what, options.lock_wait, || match file.try_lock() {
        Ok(()) => Ok(true),
        Err(TryLockError::WouldBlock) => Ok(false),
        Err(TryLockError::Error(e)) => Err(io("locking", &lock_path)(e)),
    })
    .await?;

    let connect = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(SQLITE_BUSY_TIMEOUT)
        .foreign_keys(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(MAX_CONNECTIONS)
        .connect_with(connect)
        .await
        .map_err(|source| StoreError::Open {
            target: path.display().to_string(),
            source,
        })?;
    SQLITE_MIGRATIONS
        .run(&pool)
        .await
        .map_err(|source| StoreError::Migrate {
            backend: Backend::Sqlite,
            source,
        })?;
    Ok((Db::Sqlite(pool), Guard::File(file)))
}

/// The advisory lock key: one per database and schema, so bots sharing a
/// server (or a database, in separate schemas) do not block each other.
const PG_LOCK: &str = "SELECT pg_try_advisory_lock(hashtextextended('botfleet-engine:' || coalesce(current_schema(), ''), 0))";

pub(crate) async fn postgres(url: &str, options: &OpenOptions) -> Result<(Db, Guard)> {
    let target = redact(url);
    let open_err = |source| StoreError::Open {
        target: target.clone(),
        source,
    };
    let connect: PgConnectOptions = url.parse().map_err(open_err)?;
    let mut lock_conn = PgConnection::connect_with(&connect)
        .await
        .map_err(open_err)?;
    let what = format!("PostgreSQL store {target}");
    let deadline = Instant::now() + options.lock_wait;
    loop {
        let got: bool = sqlx::query_scalar(PG_LOCK)
            .fetch_one(&mut lock_conn)
            .await
            .map_err(super::error::db("taking the single-writer advisory lock"))?;
        if got {
            break;
        }
        if Instant::now() >= deadline {
            let _ = lock_conn.close().await;
            return Err(StoreError::Locked {
                what,
                waited_ms: options.lock_wait.as_millis(),
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let pool = PgPoolOptions::new()
        .max_connections(MAX_CONNECTIONS)
        .connect_with(connect)
        .await
        .map_err(open_err)?;
    POSTGRES_MIGRATIONS
        .run(&pool)
        .await
        .map_err(|source| StoreError::Migrate {
            backend: Backend::Postgres,
            source,
        })?;
    Ok((
        Db::Postgres(pool),
        Guard::Postgres(std::sync::Mutex::new(Some(lock_conn))),
    ))
}

async fn wait_for_lock(
    what: &str,
    wait: Duration,
    mut try_lock: impl FnMut() -> Result<bool>,
) -> Result<()> {
    let deadline = Instant::now() + wait;
    loop {
        if try_lock()? {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(StoreError::Locked {
                what: what.to_string(),
                waited_ms: wait.as_millis(),
            });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The URL with the password (in the authority or a `password=` parameter)
/// replaced by `***`, for errors and logs.
pub fn redact(url: &str) -> String {
    let url = match url.split_once('?') {
        Some((base, query)) => {
            let params: Vec<String> = query
                .split('&')
                .map(|p| {
                    if p.starts_with("password=") {
                        "password=***".to_string()
                    } else {
                        p.to_string()
                    }
                })
                .collect();
            format!("{base}?{}", params.join("&"))
        }
        None => url.to_string(),
    };
    let url = url.as_str();
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_string();
    };
    let userinfo = &rest[..at];
    match userinfo.find(':') {
        Some(colon) => format!(
            "{}{}:***{}",
            &url[..scheme_end + 3],
            &userinfo[..colon],
            &rest[at..]
        ),
        None => url.to_string(),
    }
}
