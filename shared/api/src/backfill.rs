//! Current-state snapshots shared by the HTTP endpoints and the realtime
//! relay's subscribe backfill, so a dashboard sees the same
//! figures whether it polls or subscribes. Every function is one round trip
//! over the [`Database`] port: the components run it through `spin:postgres`,
//! the relay through tokio-postgres. Spin's rules apply: instants are read
//! with `iso()`, uuids as `::text`, objects are assembled as `jsonb`.
//!
//! Also here: kiosk online/offline bookkeeping (`kiosk:status`), shared by
//! `POST /api/kiosks/heartbeat` and the relay's `kiosk:heartbeat` message.

use sentinel_http::db::{Database, DbError, SqlParam};
use serde_json::{json, Value};

use sentinel_domain::kiosk::ONLINE_WINDOW_SECS as KIOSK_ONLINE_WINDOW_SECS;

fn single_json(db: &dyn Database, sql: &str, params: &[SqlParam], column: &str) -> Result<Value, DbError> {
    Ok(db.query_one(sql, params)?.map(|row| row.json(column)).unwrap_or(Value::Null))
}

fn json_list(value: Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items,
        _ => Vec::new(),
    }
}

/// `presence:update` / `GET /api/checkins/presence`: `{ totalPresent, totalMembers,
/// byDivision: [{divisionId, divisionName, present, total}], lastUpdated, visitorsPresent }`.
/// The figures are `presence_figures()` (migrations/functions/20_presence.sql), which the outbox publisher
/// also appends with every `presence:update`.
pub fn presence(db: &dyn Database) -> Result<Value, DbError> {
    Ok(db.query_row("SELECT presence_figures() AS presence", &[])?.json("presence"))
}

/// Items of `activity:backfill` and `GET /api/checkins/activity`, newest first:
/// the latest `limit` member check-ins merged with visitor sign-ins of the last
/// 24 h (visitor `direction` is `in` while on site). Absent optional fields are
/// omitted rather than null.
pub fn activity(db: &dyn Database, limit: i64) -> Result<Vec<Value>, DbError> {
    Ok(json_list(serde_json::from_str(&activity_json(db, limit)?).unwrap_or(Value::Null)))
}

/// [`activity`] as PostgreSQL renders it: a JSON array in text, for a response that passes it on unparsed.
pub fn activity_json(db: &dyn Database, limit: i64) -> Result<String, DbError> {
    const SQL: &str = r#"
        WITH kiosk_names AS (
            SELECT DISTINCT ON (kiosk_id) kiosk_id, name FROM api_keys
            WHERE kind = 'kiosk' ORDER BY kiosk_id, (revoked_at IS NULL) DESC, created_at DESC
        ), items AS (
            (SELECT c."timestamp" AS at, c.id AS id, jsonb_build_object(
                    'type', 'checkin', 'id', c.id::text, 'timestamp', iso(c."timestamp"), 'direction', c.direction,
                    'name', m.first_name || ' ' || m.last_name, 'rank', m.rank, 'division', d.name,
                    'kioskId', c.kiosk_id, 'kioskName', k.name) AS item
             -- The newest check-ins first (an index scan), then their names: joining first would sort every row.
             FROM (SELECT * FROM checkins ORDER BY "timestamp" DESC, created_at DESC, id DESC LIMIT {limit}) c
             JOIN members m ON m.id = c.member_id
             LEFT JOIN divisions d ON d.id = m.division_id
             LEFT JOIN kiosk_names k ON k.kiosk_id = c.kiosk_id)
            UNION ALL
            (SELECT v.check_in_time, v.id, jsonb_build_object(
                    'type', 'visitor', 'id', v.id::text, 'timestamp', iso(v.check_in_time),
                    'direction', CASE WHEN v.check_out_time IS NULL THEN 'in' ELSE 'out' END,
                    'name', v.name, 'kioskId', v.kiosk_id, 'kioskName', k.name, 'organization', v.organization,
                    'visitType', v.visit_type, 'visitReason', v.visit_reason,
                    'hostName', h.rank || ' ' || h.first_name || ' ' || h.last_name,
                    'eventId', v.event_id::text, 'eventName', e.name)
             FROM visitors v
             LEFT JOIN members h ON h.id = v.host_member_id
             LEFT JOIN events e ON e.id = v.event_id
             LEFT JOIN kiosk_names k ON k.kiosk_id = v.kiosk_id
             WHERE v.check_in_time > now() - interval '24 hours'
             ORDER BY v.check_in_time DESC, v.id DESC
             LIMIT {limit})
        )
        SELECT COALESCE(jsonb_agg(jsonb_strip_nulls(item) ORDER BY at DESC, id DESC), '[]'::jsonb)::text AS activity
        FROM (SELECT * FROM items ORDER BY at DESC, id DESC LIMIT {limit}) newest"#;
    // The limit is a literal (an integer cannot inject), so PostgreSQL keeps one plan per limit instead of
    // planning every request: see `listing::Where::page`.
    let sql = SQL.replace("{limit}", &limit.to_string());
    Ok(db.query_row(&sql, &[])?.text("activity").unwrap_or_else(|| "[]".to_string()))
}

/// `visitors:backfill` / `GET /api/visitors/active`: `{ visitors: Visitor[], count }`,
/// visitors on site, newest sign-in first.
pub fn active_visitors(db: &dyn Database) -> Result<Value, DbError> {
    const SQL: &str = "SELECT COALESCE(jsonb_agg(visitor_json(v, t.id) ORDER BY v.check_in_time DESC, v.id DESC), '[]'::jsonb) AS visitors
         FROM visitors v LEFT JOIN visit_types t ON t.code = v.visit_type WHERE v.check_out_time IS NULL";
    let visitors = json_list(single_json(db, SQL, &[], "visitors")?);
    Ok(json!({ "count": visitors.len(), "visitors": visitors }))
}

/// `GET /api/security-alerts/active` and `alerts:backfill`: `{ alerts: SecurityAlert[], count, total,
/// page, limit, totalPages }` — one page of the active alerts, newest first (`count` alerts on this
/// page of `total` active ones).
pub fn active_alerts(db: &dyn Database, page: sentinel_http::pagination::PageRequest) -> Result<Value, DbError> {
    const SQL: &str = "SELECT (SELECT count(*) FROM security_alerts WHERE status = 'active') AS total,
            COALESCE((SELECT jsonb_agg(alert_json(p.a) ORDER BY p.created_at DESC, p.id DESC)
                      FROM (SELECT a, a.created_at, a.id FROM security_alerts a WHERE a.status = 'active'
                            ORDER BY a.created_at DESC, a.id DESC LIMIT $1 OFFSET $2) p), '[]'::jsonb) AS alerts";
    let row = db.query_one(SQL, &[page.limit.into(), page.offset().into()])?;
    let (total, alerts) = row.map(|r| (r.int("total"), json_list(r.json("alerts")))).unwrap_or_default();
    Ok(page.wrap(json!({ "count": alerts.len(), "alerts": alerts }), total))
}

/// `dds:current` / `GET /api/dds/current`: `{ assignment: DdsAssignment | null }` —
/// today's (operational day) pending or active assignment (`dds_current`, `dds_assignment_json`).
pub fn current_dds(db: &dyn Database, day: &sentinel_domain::time::OperationalDay) -> Result<Value, DbError> {
    const SQL: &str = "SELECT dds_assignment_json(a) AS assignment
        FROM dds_current(operational_date(now(), $1::text, $2::text::interval)) a";
    let params = [day.zone.as_str().into(), day.rollover_interval().into()];
    Ok(json!({ "assignment": single_json(db, SQL, &params, "assignment")? }))
}

/// `lockup:current` / `GET /api/tags/lockup/holder`: `{ holder: LockupHolder | null }` —
/// the member holding the `Lockup` tag (`lockup_holder_json`).
pub fn lockup_current(db: &dyn Database) -> Result<Value, DbError> {
    const SQL: &str = "
        SELECT lockup_holder_json(m) AS holder
        FROM member_tags mt
        JOIN tags t ON t.id = mt.tag_id AND t.name = 'Lockup' AND t.is_system
        JOIN members m ON m.id = mt.member_id
        ORDER BY mt.created_at DESC
        LIMIT 1";
    Ok(json!({ "holder": single_json(db, SQL, &[], "holder")? }))
}

/// `lockup:current`: `{ holder: LockupHolder | null, buildingStatus }` — the Lockup holder and the
/// building's status on the operational day (`building_status_json`, migrations/functions/94_lockup.sql).
pub fn lockup_state(db: &dyn Database, day: &sentinel_domain::time::OperationalDay) -> Result<Value, DbError> {
    const SQL: &str = "SELECT building_status_json(operational_date(now(), $1::text, $2::text::interval)) AS status";
    let params = [day.zone.as_str().into(), day.rollover_interval().into()];
    let status = single_json(db, SQL, &params, "status")?;
    Ok(json!({ "holder": status["currentHolder"], "buildingStatus": status["buildingStatus"] }))
}

/// `muster:current` / `GET /api/muster/current`: `{ muster: Muster | null }` — the open muster with its roll.
pub fn current_muster(db: &dyn Database) -> Result<Value, DbError> {
    const SQL: &str = "SELECT (SELECT muster_json(m) FROM musters m WHERE m.status = 'open') AS muster";
    Ok(json!({ "muster": single_json(db, SQL, &[], "muster")? }))
}

/// `kiosks:backfill` (and, with `queueSize`, `GET /api/kiosks`): `{ kiosks: [{ kioskId, name,
/// status, lastSeen, queueSize }] }` for every non-revoked kiosk key and every kiosk that
/// reported status; online = seen (heartbeat or authenticated request) within 90 s.
pub fn kiosks(db: &dyn Database) -> Result<Value, DbError> {
    const SQL: &str = "
        WITH keys AS (
            SELECT kiosk_id, name, last_used_at FROM api_keys WHERE kind = 'kiosk' AND revoked_at IS NULL
        ), seen AS (
            SELECT COALESCE(s.kiosk_id, k.kiosk_id) AS kiosk_id, COALESCE(k.name, s.kiosk_id) AS name,
                   GREATEST(s.last_seen_at, k.last_used_at) AS last_seen, s.queue_size
            FROM kiosk_status s FULL JOIN keys k ON k.kiosk_id = s.kiosk_id
        )
        SELECT COALESCE(jsonb_agg(jsonb_build_object(
                   'kioskId', kiosk_id, 'name', name,
                   'status', CASE WHEN last_seen > now() - make_interval(secs => $1::int8) THEN 'online' ELSE 'offline' END,
                   'lastSeen', iso(last_seen), 'queueSize', queue_size) ORDER BY kiosk_id), '[]'::jsonb) AS kiosks
        FROM seen";
    let kiosks = single_json(db, SQL, &[KIOSK_ONLINE_WINDOW_SECS.into()], "kiosks")?;
    Ok(json!({ "kiosks": json_list(kiosks) }))
}

/// Records a kiosk heartbeat (upserts `kiosk_status`: last seen now, queue size, key, IP).
/// When this heartbeat brought the kiosk online (it was offline or never reported) it writes
/// `kiosk:status` `{ kioskId, status: "online", lastSeen }` to the outbox in the same statement and
/// returns true. The row lock makes the transition happen once even with concurrent heartbeats.
pub fn kiosk_heartbeat(
    db: &dyn Database,
    kiosk_id: &str,
    api_key_id: Option<&str>,
    queue_size: Option<i32>,
    app_version: Option<&str>,
    ip: Option<&str>,
) -> Result<bool, DbError> {
    // `previous` locks the existing row (FOR UPDATE re-reads it after a racing
    // heartbeat commits), so only one of several racing calls sees the
    // offline -> online transition; a kiosk that went quiet for longer than the
    // online window while still marked online also counts as coming back.
    const SQL: &str = "
        WITH previous AS (
            SELECT last_reported_status, last_seen_at FROM kiosk_status WHERE kiosk_id = $1 FOR UPDATE
        ), upserted AS (
            INSERT INTO kiosk_status AS s (kiosk_id, api_key_id, last_seen_at, queue_size, app_version, last_ip, last_reported_status)
            VALUES ($1, $2::text::uuid, now(), $3::int4, $4::text, $5::text::inet, 'online')
            ON CONFLICT (kiosk_id) DO UPDATE SET
                api_key_id = COALESCE(EXCLUDED.api_key_id, s.api_key_id),
                last_seen_at = now(),
                queue_size = COALESCE(EXCLUDED.queue_size, s.queue_size),
                app_version = COALESCE(EXCLUDED.app_version, s.app_version),
                last_ip = COALESCE(EXCLUDED.last_ip, s.last_ip),
                last_reported_status = 'online'
            RETURNING iso(s.last_seen_at) AS last_seen
        ), transition AS (
            SELECT u.last_seen FROM upserted u
            WHERE COALESCE((SELECT last_reported_status IS DISTINCT FROM 'online'
                                   OR last_seen_at < now() - make_interval(secs => $6::int8) FROM previous), true)
        ), announced AS (
            INSERT INTO event_outbox (channel, event, data)
            SELECT 'kiosks', 'kiosk:status', jsonb_build_object('kioskId', $1::text, 'status', 'online', 'lastSeen', t.last_seen)
            FROM transition t
            RETURNING id
        )
        SELECT EXISTS (SELECT 1 FROM announced) AS came_online";
    let params: [SqlParam; 6] =
        [kiosk_id.into(), api_key_id.into(), queue_size.into(), app_version.into(), ip.into(), KIOSK_ONLINE_WINDOW_SECS.into()];
    Ok(db.query_one(SQL, &params)?.is_some_and(|row| row.bool("came_online")))
}

pub fn kiosk_transitions(db: &dyn Database) -> Result<Vec<Value>, DbError> {
    const SQL: &str = "
        WITH keys AS (
            SELECT DISTINCT ON (kiosk_id) kiosk_id, id, last_used_at FROM api_keys
            WHERE kind = 'kiosk' AND revoked_at IS NULL ORDER BY kiosk_id, created_at DESC
        ), seen AS (
            SELECT COALESCE(s.kiosk_id, k.kiosk_id) AS kiosk_id, k.id AS api_key_id, s.kiosk_id IS NOT NULL AS has_row,
                   GREATEST(s.last_seen_at, k.last_used_at) AS last_seen, s.last_reported_status AS reported
            FROM kiosk_status s FULL JOIN keys k ON k.kiosk_id = s.kiosk_id
        ), wanted AS (
            SELECT kiosk_id, api_key_id, last_seen, has_row,
                   CASE WHEN last_seen > now() - make_interval(secs => $1::int8) THEN 'online' ELSE 'offline' END AS status,
                   reported
            FROM seen WHERE last_seen IS NOT NULL
        ), changed AS (
            INSERT INTO kiosk_status AS s (kiosk_id, api_key_id, last_seen_at, last_reported_status)
            SELECT kiosk_id, api_key_id, last_seen, status FROM wanted
            WHERE status IS DISTINCT FROM reported AND (has_row OR status = 'online')
            ON CONFLICT (kiosk_id) DO UPDATE SET last_reported_status = EXCLUDED.last_reported_status
            WHERE s.last_reported_status IS DISTINCT FROM EXCLUDED.last_reported_status
              -- a heartbeat that committed after this statement's snapshot keeps the kiosk online
              AND (EXCLUDED.last_reported_status = 'online' OR s.last_seen_at <= now() - make_interval(secs => $1::int8))
            RETURNING s.kiosk_id, s.last_reported_status
        ), announced AS (
            INSERT INTO event_outbox (channel, event, data)
            SELECT 'kiosks', 'kiosk:status', jsonb_build_object('kioskId', c.kiosk_id, 'status', c.last_reported_status,
                                                                'lastSeen', iso(w.last_seen))
            FROM changed c JOIN wanted w ON w.kiosk_id = c.kiosk_id
            ORDER BY c.kiosk_id
            RETURNING data
        )
        SELECT COALESCE(jsonb_agg(data), '[]'::jsonb) AS transitions FROM announced";
    Ok(json_list(single_json(db, SQL, &[KIOSK_ONLINE_WINDOW_SECS.into()], "transitions")?))
}
