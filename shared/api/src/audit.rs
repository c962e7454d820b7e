//! The audit trail (domain §8.2): every successful mutation writes one
//! `audit_log` row in the same statement — and so the same transaction — as
//! the change, as a data-modifying CTE.

use sentinel_http::auth::client_ip;
use sentinel_http::{Ctx, SqlParam};

/// Who acted, bound as three trailing parameters of the statement.
pub struct Actor {
    pub user_id: Option<String>,
    pub api_key_id: Option<String>,
    pub ip: Option<String>,
}

impl Actor {
    pub fn of(ctx: &Ctx) -> Self {
        let api_key_id = match &ctx.principal {
            sentinel_http::Principal::ApiKey(k) => Some(k.id.clone()),
            _ => None,
        };
        Self { user_id: ctx.principal.user_id().map(str::to_string), api_key_id, ip: client_ip(ctx.req) }
    }

    pub fn params(&self) -> [SqlParam; 3] {
        [self.user_id.clone().into(), self.api_key_id.clone().into(), self.ip.clone().into()]
    }
}

/// A CTE named `audit` that records `action` on `entity_type` for every row
/// of `source` (a CTE or table alias yielding `id_column`). `details` is a
/// SQL expression over `source` producing jsonb; the actor occupies
/// parameters `$first`, `$first+1`, `$first+2` (see [`Actor::params`]).
pub fn cte(action: &str, entity_type: &str, source: &str, id_column: &str, details: &str, first: usize) -> String {
    let (user, key, ip) = (first, first + 1, first + 2);
    format!(
        "audit AS (
            INSERT INTO audit_log (admin_user_id, action, entity_type, entity_id, details, ip_address)
            SELECT ${user}::text::uuid, '{action}', '{entity_type}', {source}.{id_column},
                   COALESCE({details}, '{{}}'::jsonb) || CASE WHEN ${key}::text IS NULL THEN '{{}}'::jsonb ELSE jsonb_build_object('apiKeyId', ${key}::text) END,
                   ${ip}::text::inet
            FROM {source}
            RETURNING id
        )"
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn cte_binds_actor_parameters_in_order() {
        let sql = super::cte("division_create", "division", "d", "id", "to_jsonb(d)", 5);
        assert!(sql.contains("SELECT $5::text::uuid, 'division_create', 'division', d.id"));
        assert!(sql.contains("$6::text IS NULL"));
        assert!(sql.contains("$7::text::inet"));
    }
}
