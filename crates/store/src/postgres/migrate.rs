//! The embedded migrations, applied at connect.
//!
//! Each migration is a numbered file in `migrations/postgres/`, applied once per schema and
//! recorded in `stanchion_migrations(version, applied_at)`. One transaction holds a
//! `pg_advisory_xact_lock` keyed by the schema name while it creates the schema if missing,
//! applies what is missing and records it, so stores connecting at the same time to a new schema
//! apply each migration exactly once; DDL is transactional, so a failed migration leaves nothing.

use std::time::SystemTime;

use deadpool_postgres::Pool;

use super::Context;
use crate::store::StoreError;

/// Every migration, in order: (version, SQL).
const MIGRATIONS: &[(i32, &str)] = &[(1, include_str!("../../migrations/postgres/0001_jobs.sql"))];

/// Brings `schema` up to the latest migration; `now` is recorded as `applied_at`.
pub(super) async fn run(pool: &Pool, schema: &str, now: SystemTime) -> Result<(), StoreError> {
    let mut client = pool.get().await.storage("connecting")?;
    let transaction = client.transaction().await.storage("migrating")?;
    transaction
        .execute(
            "SELECT pg_advisory_xact_lock(hashtext('stanchion_migrations'), hashtext($1))",
            &[&schema],
        )
        .await
        .storage("taking the migration lock")?;
    // CREATE SCHEMA IF NOT EXISTS needs the CREATE privilege on the database even when the
    // schema exists, so look first.
    let exists: bool = transaction
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)",
            &[&schema],
        )
        .await
        .storage("looking up the schema")?
        .get(0);
    // `schema` is a checked plain identifier (see `check_schema`), safe to quote into SQL.
    if !exists {
        transaction
            .batch_execute(&format!("CREATE SCHEMA \"{schema}\""))
            .await
            .storage("creating the schema")?;
    }
    transaction
        .batch_execute(&format!(
            "SET LOCAL search_path TO \"{schema}\"; \
             CREATE TABLE IF NOT EXISTS stanchion_migrations \
             (version integer PRIMARY KEY, applied_at timestamptz NOT NULL)"
        ))
        .await
        .storage("creating stanchion_migrations")?;
    let applied: Vec<i32> = transaction
        .query("SELECT version FROM stanchion_migrations", &[])
        .await
        .storage("reading stanchion_migrations")?
        .iter()
        .map(|row| row.get(0))
        .collect();
    for &(version, sql) in MIGRATIONS {
        if applied.contains(&version) {
            continue;
        }
        let doing = format!("applying migration {version}");
        transaction.batch_execute(sql).await.storage(&doing)?;
        transaction
            .execute(
                "INSERT INTO stanchion_migrations (version, applied_at) VALUES ($1, $2)",
                &[&version, &now],
            )
            .await
            .storage(&doing)?;
    }
    transaction
        .commit()
        .await
        .storage("committing the migrations")
}
