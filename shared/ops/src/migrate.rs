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

/// A versioned migration binds triggers; their functions live in the function files, which apply
/// after the migrations. So that the binding can be made, every trigger function of `files` that
/// does not exist yet (and that no versioned migration creates itself) is first declared with a body
/// that fails if it ever fires; the function files then replace it (docs/database.md, "Two kinds of
/// files").
async fn declare_trigger_functions(client: &tokio_postgres::Client, migrations: &[Migration], files: &[FunctionFile]) -> Result<()> {
    let migration_sql: Vec<&str> = migrations.iter().filter_map(|m| m.sql()).collect();
    for name in trigger_functions_to_declare(&migration_sql, files) {
        client
            .batch_execute(&format!(
                "DO $$ BEGIN
                   IF to_regprocedure('{name}()') IS NULL THEN
                     CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql
                       AS $f$ BEGIN RAISE EXCEPTION 'trigger function {name} has no body yet: apply the function files'; END $f$;
                   END IF;
                 END $$"
            ))
            .await
            .with_context(|| format!("declaring trigger function {name}"))?;
    }
    Ok(())
}

/// The trigger functions the function files define (`CREATE OR REPLACE FUNCTION name() RETURNS
/// trigger`) that no versioned migration creates.
fn trigger_functions_to_declare(migration_sql: &[&str], files: &[FunctionFile]) -> Vec<String> {
    let created_by_a_migration = |name: &str| {
        migration_sql.iter().any(|sql| {
            let sql = sql.to_ascii_lowercase();
            sql.contains(&format!("create function {name}(")) || sql.contains(&format!("create or replace function {name}("))
        })
    };
    files
        .iter()
        .flat_map(|file| file.sql.lines())
        .filter_map(|line| line.strip_prefix("CREATE OR REPLACE FUNCTION ")?.strip_suffix("() RETURNS trigger"))
        .filter(|name| name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') && !created_by_a_migration(name))
        .map(str::to_string)
        .collect()
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
/// The trigger functions they bind are declared first ([`declare_trigger_functions`]).
pub async fn apply(client: &mut tokio_postgres::Client, migrations: &[Migration]) -> Result<Vec<String>> {
    declare_trigger_functions(client, migrations, &embedded_function_files()).await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_trigger_functions_no_migration_creates_are_declared() {
        let file = FunctionFile {
            name: "10_x.sql".into(),
            sql: "CREATE OR REPLACE FUNCTION stamp() RETURNS trigger\nLANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;\n\
                  CREATE OR REPLACE FUNCTION announce() RETURNS trigger\nLANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;\n\
                  CREATE OR REPLACE FUNCTION helper(x int) RETURNS int LANGUAGE sql AS $$ SELECT x $$;"
                .into(),
        };
        let migrations = ["CREATE TABLE t (id int);\nCREATE FUNCTION stamp() RETURNS trigger AS $$ ... $$;"];
        assert_eq!(trigger_functions_to_declare(&migrations, &[file]), vec!["announce".to_string()]);
    }

    #[test]
    fn every_outbox_trigger_function_is_declared_for_its_migration() {
        let migrations: Vec<String> = embedded_migrations().iter().filter_map(|m| m.sql().map(str::to_string)).collect();
        let sql: Vec<&str> = migrations.iter().map(String::as_str).collect();
        let declared = trigger_functions_to_declare(&sql, &embedded_function_files());
        assert!(declared.iter().any(|n| n == "outbox_checkin_new") && !declared.iter().any(|n| n == "set_updated_at"), "{declared:?}");
    }
}
