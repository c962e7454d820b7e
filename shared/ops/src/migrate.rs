//! The database schema, in two kinds of files (docs/database.md):
//!
//! - **Versioned migrations** `migrations/V<version>__<name>.sql` (refinery): tables, constraints,
//!   indexes, triggers — what must change in order. Refinery records each applied migration with a
//!   checksum in `refinery_schema_history`, runs every migration in its own transaction, and
//!   refuses to continue when an applied migration was edited (divergent) or is missing.
//! - **Function files** `migrations/functions/*.sql`: the current text of every function and view,
//!   one file per area, written with `CREATE OR REPLACE`. They are applied after the versioned
//!   migrations, in file-name order, all in one transaction; `sentinel_function_files` records each
//!   file's checksum, so a changed file is re-applied and an unchanged one skipped.
//!
//! Both are embedded at compile time.

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

mod functions {
    include!(concat!(env!("OUT_DIR"), "/function_files.rs"));
}

/// One file of `migrations/functions/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionFile {
    /// The file name, e.g. `20_presence.sql`; files apply in name order.
    pub name: String,
    pub sql: String,
}

impl FunctionFile {
    pub fn checksum(&self) -> String {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(self.sql.as_bytes()))
    }
}

/// The function files compiled into this binary, in application order.
pub fn embedded_function_files() -> Vec<FunctionFile> {
    functions::FUNCTION_FILES.iter().map(|(name, sql)| FunctionFile { name: name.to_string(), sql: sql.to_string() }).collect()
}

/// Apply the embedded versioned migrations, then the embedded function files. Returns what this run
/// applied: migration names (`V1__init`) and function files (`functions/20_presence.sql`).
pub async fn migrate(client: &mut tokio_postgres::Client) -> Result<Vec<String>> {
    let mut applied = apply(client, &embedded_migrations()).await?;
    applied.extend(apply_function_files(client, &embedded_function_files()).await?);
    Ok(applied)
}

/// Apply every file of `files` whose checksum differs from the one recorded, in name order, in one
/// transaction (all or nothing). Concurrent runs serialise on an advisory lock. Returns the files
/// applied, as `functions/<name>`.
pub async fn apply_function_files(client: &mut tokio_postgres::Client, files: &[FunctionFile]) -> Result<Vec<String>> {
    let mut files = files.to_vec();
    files.sort_by(|a, b| a.name.cmp(&b.name));
    let tx = client.transaction().await.context("starting the function-file transaction")?;
    tx.batch_execute(
        "SELECT pg_advisory_xact_lock(hashtext('sentinel_function_files'));
         CREATE TABLE IF NOT EXISTS sentinel_function_files (
             name text PRIMARY KEY,
             checksum text NOT NULL,
             applied_at timestamptz NOT NULL DEFAULT now()
         );
         -- Bodies may call functions defined in a later file; they are checked when first run.
         SET LOCAL check_function_bodies = off;",
    )
    .await
    .context("preparing to apply function files")?;
    let recorded: std::collections::HashMap<String, String> = tx
        .query("SELECT name, checksum FROM sentinel_function_files", &[])
        .await?
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    let mut applied = Vec::new();
    for file in &files {
        let checksum = file.checksum();
        if recorded.get(&file.name) == Some(&checksum) {
            continue;
        }
        tx.batch_execute(&file.sql).await.with_context(|| format!("applying migrations/functions/{}", file.name))?;
        tx.execute(
            "INSERT INTO sentinel_function_files (name, checksum) VALUES ($1, $2)
             ON CONFLICT (name) DO UPDATE SET checksum = EXCLUDED.checksum, applied_at = now()",
            &[&file.name, &checksum],
        )
        .await?;
        applied.push(format!("functions/{}", file.name));
    }
    tx.commit().await.context("committing the function files")?;
    Ok(applied)
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
