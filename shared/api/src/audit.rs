//! The audit trail: every successful mutation writes one `audit_log` row in the same statement —
//! and so the same transaction — as the change. Handlers whose SQL is written here add the
//! data-modifying CTE [`cte`]; SQL functions call `write_audit()`. Both build the row with the SQL
//! function `audit_entry()` (migrations/functions/40_audit.sql), the one definition of its content.

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
            SELECT audit_row.* FROM {source}, LATERAL audit_entry(${user}::text::uuid, ${key}::text, ${ip}::text, '{action}', '{entity_type}',
                                                                 {source}.{id_column}, {details}) audit_row
            RETURNING id
        )"
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn cte_binds_actor_parameters_in_order() {
        let sql = super::cte("division_create", "division", "d", "id", "to_jsonb(d)", 5);
        assert!(sql.contains("audit_entry($5::text::uuid, $6::text, $7::text, 'division_create', 'division',"));
        assert!(sql.contains("d.id, to_jsonb(d)) audit_row"));
    }
}
