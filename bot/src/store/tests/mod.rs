//! Store tests. Every behaviour test runs twice, against a real SQLite file in a
//! temporary directory and against a fresh database on the PostgreSQL test
//! server (`BOTFLEET_TEST_POSTGRES_URL`, see `store::testing`).

mod orders_fills;
mod records;
mod restore_lock;
mod step;

use super::testing::{TestDatabase, postgres_url};
use super::{OpenOptions, Store, StoreConfig, StoreError};
use crate::domain::{
    Fill, Liquidity, Money, OrderId, OrderKind, OrderRequest, Price, Quantity, Side, Symbol,
};
use std::path::PathBuf;
use std::time::Duration;

/// Where one test's store lives; reopenable, cleaned up on drop.
pub(super) enum Target {
    Sqlite {
        _dir: tempfile::TempDir,
        path: PathBuf,
    },
    Postgres(TestDatabase),
}

impl Target {
    pub(super) fn sqlite() -> Target {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("engine.db");
        Target::Sqlite { _dir: dir, path }
    }

    /// `None` only when PostgreSQL tests are explicitly skipped.
    pub(super) async fn postgres() -> Option<Target> {
        let url = postgres_url()?;
        Some(Target::Postgres(TestDatabase::create(&url).await))
    }

    pub(super) fn config(&self) -> StoreConfig {
        match self {
            Target::Sqlite { path, .. } => StoreConfig::Sqlite { path: path.clone() },
            Target::Postgres(db) => StoreConfig::Postgres {
                url: db.url.clone(),
            },
        }
    }

    pub(super) async fn open(&self) -> Store {
        Store::open(&self.config())
            .await
            .expect("opening the store")
    }

    /// Opening with no patience for a held lock.
    pub(super) async fn try_open_now(&self) -> Result<Store, StoreError> {
        let options = OpenOptions {
            lock_wait: Duration::from_millis(300),
        };
        Store::open_with(&self.config(), &options).await
    }
}

/// Generates `sqlite::NAME` and `postgres::NAME` tests from `async fn NAME(Target)`.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::store::tests::Target::sqlite()).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(target) = $crate::store::tests::Target::postgres().await {
                        super::$name(target).await
                    }
                }
            )*
        }
    };
}
pub(super) use on_both_backends;

pub(super) fn q(s: &str) -> Quantity {
    s.parse().expect("quantity literal")
}

pub(super) fn p(s: &str) -> Price {
    s.parse().expect("price literal")
}

pub(super) fn m(s: &str) -> Money {
    s.parse().expect("money literal")
}

pub(super) fn market(id: u64, symbol: &str, side: Side, quantity: &str) -> OrderRequest {
    OrderRequest {
        id: OrderId(id),
        symbol: Symbol::new(symbol),
        side,
        kind: OrderKind::Market,
        quantity: q(quantity),
        reason: format!("signal for order {id}"),
        created_at: 1_700_000_000_000 + id as i64,
    }
}

pub(super) fn limit(
    id: u64,
    symbol: &str,
    side: Side,
    quantity: &str,
    price: &str,
) -> OrderRequest {
    OrderRequest {
        kind: OrderKind::Limit { price: p(price) },
        ..market(id, symbol, side, quantity)
    }
}

pub(super) fn client_id(id: u64) -> String {
    format!("bf-test-{id}")
}

pub(super) fn fill(
    trade: &str,
    order: &OrderRequest,
    quantity: &str,
    price: &str,
    fee: &str,
) -> Fill {
    Fill {
        trade_id: trade.to_string(),
        order_id: order.id,
        symbol: order.symbol.clone(),
        side: order.side,
        price: p(price),
        quantity: q(quantity),
        fee: m(fee),
        liquidity: Liquidity::Taker,
        time: order.created_at + 60_000,
    }
}

#[test]
fn config_parses_urls_and_paths() {
    assert_eq!(
        StoreConfig::parse("postgres://u:p@h/db"),
        StoreConfig::Postgres {
            url: "postgres://u:p@h/db".into()
        }
    );
    assert_eq!(
        StoreConfig::parse(" postgresql://h/db "),
        StoreConfig::Postgres {
            url: "postgresql://h/db".into()
        }
    );
    assert_eq!(
        StoreConfig::parse("sqlite:///data/bot.db"),
        StoreConfig::Sqlite {
            path: "/data/bot.db".into()
        }
    );
    assert_eq!(
        StoreConfig::parse("sqlite:///var/lib/botfleet/bot.db?mode=rwc"),
        StoreConfig::Sqlite {
            path: "/var/lib/botfleet/bot.db".into()
        }
    );
    assert_eq!(
        StoreConfig::parse("sqlite:bot.db"),
        StoreConfig::Sqlite {
            path: "bot.db".into()
        }
    );
    assert_eq!(
        StoreConfig::parse("/data/bot.db"),
        StoreConfig::Sqlite {
            path: "/data/bot.db".into()
        }
    );
}

#[test]
fn redact_hides_passwords() {
    use super::open::redact;
    assert_eq!(
        redact("postgres://bot:s3cret@db:5432/x"),
        "postgres://bot:***@db:5432/x"
    );
    assert_eq!(
        redact("postgres://db/x?user=bot&password=s3cret"),
        "postgres://db/x?user=bot&password=***"
    );
    assert_eq!(redact("postgres://bot@db/x"), "postgres://bot@db/x");
}

#[test]
fn with_database_swaps_only_the_name() {
    use super::testing::with_database;
    assert_eq!(
        with_database("postgres://u:p@h:1/a", "b"),
        "postgres://u:p@h:1/b"
    );
    assert_eq!(
        with_database("postgres://u:p@h:1/a?sslmode=disable", "b"),
        "postgres://u:p@h:1/b?sslmode=disable"
    );
    assert_eq!(with_database("postgres://h:1", "b"), "postgres://h:1/b");
}

#[tokio::test]
async fn missing_data_directory_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("not-mounted").join("engine.db");
    let err = Store::open(&StoreConfig::Sqlite { path })
        .await
        .err()
        .expect("must fail");
    let text = err.to_string();
    assert!(matches!(err, StoreError::MissingDirectory(_)), "{text}");
    assert!(
        text.contains("not-mounted") && text.contains("mount the data volume"),
        "{text}"
    );
}

#[tokio::test]
async fn sqlite_is_wal_with_full_sync() {
    let target = Target::sqlite();
    let store = target.open().await;
    let super::Db::Sqlite(pool) = &store.db else {
        unreachable!()
    };
    let journal: (String,) = sqlx::query_as("PRAGMA journal_mode")
        .fetch_one(pool)
        .await
        .unwrap();
    let sync: (i64,) = sqlx::query_as("PRAGMA synchronous")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(journal.0, "wal");
    assert_eq!(sync.0, 2, "synchronous must be FULL (2)");
    store.close().await;
}
