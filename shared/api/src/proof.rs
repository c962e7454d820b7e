//! Badge proof for kiosk actions on behalf of a member: a kiosk key may accept or release DDS,
//! transfer the Lockup responsibility or execute lockup only with `actorBadgeSerial`, the badge the
//! member just scanned, which the SQL function `badge_proves` checks inside the action's own
//! statement (migrations/functions/15_badge_proof.sql). Users act by their role and send none.

use sentinel_domain::badge::normalize_serial;
use sentinel_http::{ApiError, Ctx};

/// The serial the action's SQL must check: `Some` for a kiosk (403 `BADGE_PROOF_REQUIRED` when the
/// body has none), `None` for users (whatever they sent is ignored).
pub fn actor_badge(ctx: &Ctx, serial: Option<&str>) -> Result<Option<String>, ApiError> {
    if !ctx.principal.is_kiosk() {
        return Ok(None);
    }
    serial.map(normalize_serial).filter(|s| !s.is_empty()).map(Some).ok_or_else(proof_required)
}

/// The refusal of a kiosk action without a valid proof (no serial, or one not proving the member).
pub fn proof_required() -> ApiError {
    ApiError::forbidden(
        "BADGE_PROOF_REQUIRED",
        "A kiosk acting for a member must send actorBadgeSerial: the active badge of that member, just scanned",
    )
}
