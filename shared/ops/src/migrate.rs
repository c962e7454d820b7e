//! Schema migrations: the SQL files in the workspace's `migrations/` directory (refinery naming
//! `V<version>__<name>.sql`), embedded at compile time and applied over tokio-postgres.
//!
//! Refinery records each applied migration with a checksum in `refinery_schema_history`, runs every
//! migration in its own transaction, and refuses to continue when an applied migration was edited
//! (divergent) or is missing from the set.

use anyhow::{Context, Result};
use refinery::{Migration, Runner};
use std::path::Path;

mod embedded {
    refinery::embed_migrations!("../../migrations");
}

/// The migrations compiled into this binary.
pub fn embedded_migrations() -> Vec<Migration> {
    embedded::migrations::runner().get_migrations().clone()
}

/// Read migrations from a directory at run time (tests; tooling).
pub fn load_migrations(dir: &Path) -> Result<Vec<Migration>> {
    refinery::load_sql_migrations(dir).with_context(|| format!("loading migrations from {}", dir.display()))
}

/// Apply the embedded migrations. Returns the names (`V1__init`) of the migrations applied by this run.
pub async fn migrate(client: &mut tokio_postgres::Client) -> Result<Vec<String>> {
    apply(client, &embedded_migrations()).await
}

/// Apply `migrations` in version order, each in its own transaction; refuses divergent or missing ones.
pub async fn apply(client: &mut tokio_postgres::Client, migrations: &[Migration]) -> Result<Vec<String>> {
    let report = Runner::new(migrations)
        .set_grouped(false)
        .set_abort_divergent(true)
        .set_abort_missing(true)
        .run_async(client)
        .await
        .context("applying database migrations")?;
    Ok(report.applied_migrations().iter().map(|m| m.to_string()).collect())
}

/// Connect to `database_url` (no TLS: the servers we manage listen on loopback) and apply the embedded migrations.
pub async fn migrate_url(database_url: &str) -> Result<Vec<String>> {
    let mut client = crate::connect(database_url).await?;
    migrate(&mut client).await
}
