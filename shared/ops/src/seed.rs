//! Demo seed and the initial administrator.
//!
//! [`seed_demo`] is idempotent and safe to run on every start: the demo rows (`seed/demo.sql`) are matched on
//! natural keys and inserted only when missing, existing rows are never changed, and the initial account is
//! created only while no `developer`/`admin` user exists. Everything runs in one transaction.
use anyhow::{anyhow, bail, Context, Result};
use rand::seq::{IndexedRandom, SliceRandom};
use rand::Rng;

pub struct AdminSeed {
    pub email: String,
    /// None: generate a strong password and report it once.
    pub password: Option<String>,
}

pub struct SeedReport {
    /// Set when this run created the initial admin: (email, password). The password is Some only if it was generated.
    pub created_admin: Option<(String, Option<String>)>,
    /// True when demo rows were inserted by this run (false if already present).
    pub demo_inserted: bool,
}

const DEMO_SQL: &str = include_str!("../seed/demo.sql");

/// Serialises concurrent seed runs (pg_advisory_xact_lock key; "SNTLSEED").
const SEED_LOCK_KEY: i64 = 0x534E_544C_5345_4544;

/// The bootstrap account gets the top role so that every role (including `developer`) can be managed from it.
const INITIAL_ADMIN_ROLE: &str = "developer";
const INITIAL_ADMIN_DISPLAY_NAME: &str = "Administrator";

/// Rows counted to tell whether this run inserted demo data.
const DEMO_ROW_COUNT_SQL: &str = "SELECT (SELECT count(*) FROM divisions) + (SELECT count(*) FROM members) \
     + (SELECT count(*) FROM badges) + (SELECT count(*) FROM member_tags) + (SELECT count(*) FROM visitors) \
     + (SELECT count(*) FROM events) + (SELECT count(*) FROM event_attendees)";

pub async fn seed_demo(client: &tokio_postgres::Client, admin: &AdminSeed) -> anyhow::Result<SeedReport> {
    seed(client, admin, true).await
}

/// Only the initial administrator, for production databases that must not
/// receive demo rows.
pub async fn seed_initial_admin(client: &tokio_postgres::Client, admin: &AdminSeed) -> anyhow::Result<SeedReport> {
    seed(client, admin, false).await
}

async fn seed(client: &tokio_postgres::Client, admin: &AdminSeed, include_demo: bool) -> anyhow::Result<SeedReport> {
    // `&Client` cannot open a `Transaction` (needs `&mut`), so the transaction is driven by statements.
    client.batch_execute("BEGIN").await.context("starting the seed transaction")?;
    match seed_in_transaction(client, admin, include_demo).await {
        Ok(report) => {
            // Deferred constraints (badge linkage) are checked here.
            client.batch_execute("COMMIT").await.context("committing the demo seed")?;
            Ok(report)
        }
        Err(err) => {
            let _ = client.batch_execute("ROLLBACK").await;
            Err(err)
        }
    }
}

async fn seed_in_transaction(client: &tokio_postgres::Client, admin: &AdminSeed, include_demo: bool) -> Result<SeedReport> {
    client
        .execute("SELECT pg_advisory_xact_lock($1)", &[&SEED_LOCK_KEY])
        .await
        .context("locking the seed")?;
    let mut demo_inserted = false;
    if include_demo {
        let before: i64 = client.query_one(DEMO_ROW_COUNT_SQL, &[]).await?.get(0);
        client.batch_execute(DEMO_SQL).await.context("inserting demo data (seed/demo.sql)")?;
        let after: i64 = client.query_one(DEMO_ROW_COUNT_SQL, &[]).await?.get(0);
        demo_inserted = after > before;
    }
    let created_admin = ensure_initial_admin(client, admin).await?;
    Ok(SeedReport { created_admin, demo_inserted })
}

/// Creates the initial account unless a developer or admin (enabled or not) already exists.
async fn ensure_initial_admin(
    client: &tokio_postgres::Client,
    admin: &AdminSeed,
) -> Result<Option<(String, Option<String>)>> {
    let privileged: i64 = client
        .query_one("SELECT count(*) FROM users WHERE role IN ('developer', 'admin')", &[])
        .await?
        .get(0);
    if privileged > 0 {
        return Ok(None);
    }
    let email = admin.email.trim();
    if !looks_like_email(email) {
        bail!("initial admin e-mail {email:?} is not a valid e-mail address");
    }
    if let Some(row) = client
        .query_opt("SELECT role FROM users WHERE lower(email) = lower($1)", &[&email])
        .await?
    {
        let role: String = row.get(0);
        bail!(
            "no developer/admin account exists, but {email} is already used by a {role} account; \
             promote it or choose another initial admin e-mail"
        );
    }
    let (password, generated) = match &admin.password {
        Some(given) => {
            check_password_policy(given).map_err(|why| anyhow!("initial admin password rejected: {why}"))?;
            (given.clone(), false)
        }
        None => (generate_password(), true),
    };
    let hash = hash_password(&password)?;
    client
        .execute(
            "INSERT INTO users (email, display_name, password_hash, role) VALUES ($1, $2, $3, $4)",
            &[&email, &INITIAL_ADMIN_DISPLAY_NAME, &hash, &INITIAL_ADMIN_ROLE],
        )
        .await
        .context("creating the initial admin user")?;
    Ok(Some((email.to_string(), generated.then_some(password))))
}

fn looks_like_email(email: &str) -> bool {
    match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && email.len() <= 255
                && !email.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

/// Password policy, the same rule the API applies: the first violation, if any.
pub fn check_password_policy(password: &str) -> Result<(), &'static str> {
    match sentinel_auth::password::policy_violations(password).first() {
        Some(problem) => Err(problem),
        None => Ok(()),
    }
}

const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
const LOWER: &[u8] = b"abcdefghijkmnopqrstuvwxyz";
const DIGITS: &[u8] = b"23456789";
// No quotes, backslash, `$` or `&`, so the password can be pasted into a shell or a URL form unquoted.
const SYMBOLS: &[u8] = b"!#%*+-=?@^_~";
const GENERATED_LENGTH: usize = 24;

/// A random password satisfying [`check_password_policy`] (24 characters, ~140 bits, OS-seeded CSPRNG;
/// look-alike characters such as `0/O` and `1/l/I` left out).
pub fn generate_password() -> String {
    let mut rng = rand::rng();
    let all: Vec<u8> = [UPPER, LOWER, DIGITS, SYMBOLS].concat();
    let mut chars: Vec<u8> = [UPPER, LOWER, DIGITS, SYMBOLS]
        .iter()
        .map(|class| *class.choose(&mut rng).expect("non-empty class"))
        .collect();
    while chars.len() < GENERATED_LENGTH {
        chars.push(all[rng.random_range(0..all.len())]);
    }
    chars.shuffle(&mut rng);
    String::from_utf8(chars).expect("ASCII")
}

/// Argon2id PHC string, hashed exactly as the API hashes passwords.
pub fn hash_password(password: &str) -> Result<String> {
    sentinel_auth::password::hash(password)
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    use argon2::Argon2;

    #[test]
    fn generated_passwords_satisfy_the_policy_and_differ() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..500 {
            let password = generate_password();
            assert_eq!(password.chars().count(), GENERATED_LENGTH);
            assert_eq!(check_password_policy(&password), Ok(()), "{password}");
            assert!(password.bytes().all(|b| UPPER.contains(&b)
                || LOWER.contains(&b)
                || DIGITS.contains(&b)
                || SYMBOLS.contains(&b)));
            assert!(seen.insert(password), "duplicate generated password");
        }
    }

    #[test]
    fn policy_requires_length_and_every_character_class() {
        assert_eq!(check_password_policy("Abcdefgh1!x"), Err("must be 12 to 128 characters"));
        assert_eq!(check_password_policy("Abcdefgh1!xy"), Ok(()));
        let longest = format!("Aa1!{}", "x".repeat(124));
        assert_eq!(check_password_policy(&longest), Ok(()));
        assert_eq!(check_password_policy(&format!("{longest}x")), Err("must be 12 to 128 characters"));
        assert_eq!(check_password_policy("abcdefgh1!xy"), Err("must contain an upper-case letter"));
        assert_eq!(check_password_policy("ABCDEFGH1!XY"), Err("must contain a lower-case letter"));
        assert_eq!(check_password_policy("Abcdefghi!xy"), Err("must contain a digit"));
        assert_eq!(check_password_policy("Abcdefgh12xy"), Err("must contain a symbol"));
        assert_eq!(check_password_policy("Abcdefgh12 xy"), Err("must contain a symbol"), "space is not a symbol");
        // Length counts characters, not bytes.
        assert_eq!(check_password_policy("Äbcdéfgh1!x"), Err("must be 12 to 128 characters"));
    }

    #[test]
    fn hashes_are_argon2id_phc_strings_that_verify() {
        let hash = hash_password("Correct-Horse-9-Battery").unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        assert!(hash.len() <= 255);
        let parsed = PasswordHash::new(&hash).unwrap();
        assert!(Argon2::default().verify_password(b"Correct-Horse-9-Battery", &parsed).is_ok());
        assert!(Argon2::default().verify_password(b"correct-horse-9-battery", &parsed).is_err());
        assert_ne!(hash, hash_password("Correct-Horse-9-Battery").unwrap(), "salted");
    }

    #[test]
    fn email_shape() {
        assert!(looks_like_email("admin@example.org"));
        assert!(!looks_like_email("admin"));
        assert!(!looks_like_email("@example.org"));
        assert!(!looks_like_email("a@b@c"));
        assert!(!looks_like_email("a b@example.org"));
    }
}

/// The display key `sentinel up` opens the presence board with: the key saved in `saved` (mode 0600)
/// while the database still accepts it, else a new `display` key (created here, saved there). Local
/// development only; deployments issue keys through `POST /api/auth/api-keys`.
pub async fn local_display_key(client: &tokio_postgres::Client, saved: &std::path::Path) -> Result<String> {
    if let Ok(existing) = std::fs::read_to_string(saved) {
        let existing = existing.trim();
        if sentinel_auth::api_key::looks_like_key(existing) {
            let valid = client
                .query_opt(
                    "SELECT 1 FROM api_keys WHERE key_hash = $1 AND kind = 'display' AND revoked_at IS NULL AND expires_at > now()",
                    &[&sentinel_auth::secret_hash(existing)],
                )
                .await?
                .is_some();
            if valid {
                return Ok(existing.to_string());
            }
        }
    }
    let key = sentinel_auth::api_key::generate();
    client
        .execute(
            "INSERT INTO api_keys (name, kind, key_hash, key_prefix) VALUES ('Presence board (sentinel up)', 'display', $1, $2)",
            &[&key.key_hash, &key.key_prefix],
        )
        .await?;
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(saved)
            .with_context(|| format!("writing {}", saved.display()))?;
        writeln!(file, "{}", key.key)?;
    }
    Ok(key.key)
}
