//! Kiosk status. A kiosk is a kiosk API key's
//! `kioskId`; it is online when seen — by a heartbeat or any authenticated
//! request (the key's `last_used_at`) — within the last 90 seconds.
//!
//! `kiosk_status.last_reported_status` remembers what was last pushed on the
//! `kiosks` channel, so each online/offline transition is pushed once even
//! when requests race: the row is locked before it is compared.

use garde::Validate;
use http::Method;
use sentinel_http::{ok, Access, Allow, ApiError, Ctx, HandlerResult, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use sentinel_http::auth::client_ip;

pub fn routes(router: Router) -> Router {
    router
        .route(Method::POST, "/api/kiosks/heartbeat", Access::Restricted(&[Allow::Kiosk]), heartbeat)
        .route(Method::GET, "/api/kiosks", Access::ADM, list)
}

use sentinel_domain::kiosk::ONLINE_WINDOW_SECS;

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Heartbeat {
    /// Scans waiting in the kiosk's offline queue.
    #[garde(inner(range(min = 0)))]
    #[schema(minimum = 0, maximum = 2147483647)]
    pub queue_size: Option<i32>,
    #[garde(inner(length(chars, max = 100)))]
    #[schema(max_length = 100)]
    pub app_version: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HeartbeatReply {
    pub kiosk_id: String,
    /// Lets the kiosk measure its clock drift.
    #[schema(format = DateTime)]
    pub server_time: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KioskStatus {
    pub kiosk_id: String,
    /// The kiosk key's name.
    pub name: String,
    /// online | offline
    #[schema(pattern = "^(online|offline)$")]
    pub status: String,
    #[schema(format = DateTime)]
    pub last_seen: Option<String>,
    pub queue_size: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KioskList {
    pub kiosks: Vec<KioskStatus>,
}

/// Report a kiosk heartbeat
///
/// A kiosk key reports that its kiosk is alive, with its offline queue size and app version; the kiosk
/// counts as online for 90 seconds, and coming online is pushed on the `kiosks` channel once.
#[utoipa::path(post, path = "/api/kiosks/heartbeat", tag = "kiosks", request_body = Heartbeat,
    responses((status = 200, body = HeartbeatReply)))]
pub fn heartbeat(ctx: &Ctx) -> HandlerResult {
    let body: Heartbeat = ctx.json()?;
    let sentinel_http::Principal::ApiKey(key) = &ctx.principal else { return Err(ApiError::unauthorized("Kiosk key required")) };
    let kiosk_id = ctx.principal.kiosk_id().ok_or_else(|| ApiError::forbidden("FORBIDDEN", "Only kiosk keys send heartbeats"))?.to_string();
    crate::backfill::kiosk_heartbeat(
        ctx.db(),
        &kiosk_id,
        Some(&key.id),
        body.queue_size,
        body.app_version.as_deref(),
        client_ip(ctx.req).as_deref(),
    )?;
    ok(json!({ "kioskId": kiosk_id, "serverTime": sentinel_domain::time::now_iso() }))
}

/// List kiosks
///
/// Every kiosk with an active (unrevoked, unexpired) kiosk key: online when seen by a heartbeat or any
/// authenticated request in the last 90 seconds. Kiosks found to have gone quiet are pushed as offline.
#[utoipa::path(get, path = "/api/kiosks", tag = "kiosks", responses((status = 200, body = KioskList)))]
pub fn list(ctx: &Ctx) -> HandlerResult {
    // Kiosks that went quiet while reported online are marked offline here
    // (once: the update re-checks the locked row) and announced (`kiosk:status`
    // through the outbox), since no heartbeat will arrive to notice it.
    let window = format!("interval '{ONLINE_WINDOW_SECS} seconds'");
    let sql = format!(
        "WITH k AS (
            SELECT a.kiosk_id, a.name, a.last_used_at FROM api_keys a
            WHERE a.kind = 'kiosk' AND a.revoked_at IS NULL AND a.expires_at > now()
         ), went_offline AS (
            UPDATE kiosk_status s SET last_reported_status = 'offline'
            FROM k WHERE s.kiosk_id = k.kiosk_id AND s.last_reported_status = 'online'
              AND GREATEST(s.last_seen_at, k.last_used_at) < now() - {window}
            RETURNING s.kiosk_id, GREATEST(s.last_seen_at, k.last_used_at) AS last_seen
         ), announced AS (
            INSERT INTO event_outbox (channel, event, data)
            SELECT 'kiosks', 'kiosk:status', jsonb_build_object('kioskId', w.kiosk_id, 'status', 'offline', 'lastSeen', iso(w.last_seen))
            FROM went_offline w ORDER BY w.kiosk_id
         )
         SELECT k.kiosk_id, k.name, iso(GREATEST(s.last_seen_at, k.last_used_at)) AS last_seen,
                COALESCE(GREATEST(s.last_seen_at, k.last_used_at) >= now() - {window}, false) AS online,
                s.queue_size::int8 AS queue_size, s.queue_size IS NULL AS no_queue
         FROM k LEFT JOIN kiosk_status s ON s.kiosk_id = k.kiosk_id
         ORDER BY k.kiosk_id"
    );
    let rows = ctx.db().query(&sql, &[])?;
    let mut kiosks = Vec::with_capacity(rows.len());
    for r in &rows {
        let kiosk = KioskStatus {
            kiosk_id: r.text("kiosk_id").unwrap_or_default(),
            name: r.text("name").unwrap_or_default(),
            status: if r.bool("online") { "online" } else { "offline" }.to_string(),
            last_seen: r.text("last_seen"),
            queue_size: (!r.bool("no_queue")).then(|| r.int("queue_size")),
        };
        kiosks.push(kiosk);
    }
    ok(json!({ "kiosks": serde_json::to_value(kiosks).unwrap_or_default() }))
}
