-- Kiosk-flow audit fixes (api.md §3, §6, §10; domain.md §5.3; realtime.md §5). Each function below is the
-- latest definition (V6; none of them was changed by V7/V8) with the fix applied:
--   * sync_scans: idempotency — an item already stored under (kiosk, clientRef), or without clientRef
--     (kiosk, badge, timestamp), is a duplicate BEFORE any badge/member validation, so a badge that became
--     lost or was reassigned between upload and retry cannot fail the retry or raise a new alert.
--   * scan_badge, sync_scans: a badge_disabled alert for a returned (inactive, hence unassigned) badge names
--     the last holder: the member of the most recent check-in made with that badge (api.md §6 scan row 3).
--   * record_checkin: manual checkout requires the member to be present per domain §5.3 (status active AND
--     latest check-in `in`); anyone else is NOT_CHECKED_IN.
--   * raise_or_match_security_alert / create_security_alert: duplicate suppression returns the alert it
--     matched (read after the advisory lock, so also one committed by a concurrent request), and POST
--     /api/security-alerts writes its audit row in both cases. raise_security_alert keeps its contract.
--   * badge_assign: re-assigning the same holder (a successful no-op) still writes its audit row.
--   * member_save: reports `presenceChanged` (active member created; status or division changed in a way that
--     moves presence figures) so the API publishes presence:update.

-- ---------------------------------------------------------------------------------------------------------
-- Security alerts with duplicate suppression (api.md §6 rule 5). Returns {created: bool, alert}: the new
-- alert, or the active alert of the same type, badge serial and kiosk created within p_window that suppressed
-- it. The matching read runs after the advisory lock in its own statement, so it sees an alert committed by a
-- concurrent call that held the lock first.

CREATE FUNCTION raise_or_match_security_alert(p_type text, p_severity text, p_serial text, p_member uuid, p_kiosk text,
                                              p_message text, p_details jsonb, p_window interval) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    a security_alerts%ROWTYPE;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('security_alert:' || p_type || ':' || p_kiosk || ':' || coalesce(p_serial, ''), 0));
    IF p_window > interval '0' THEN
        SELECT * INTO a FROM security_alerts x
        WHERE x.status = 'active' AND x.alert_type = p_type AND x.kiosk_id = p_kiosk
          AND x.badge_serial IS NOT DISTINCT FROM p_serial AND x.created_at > clock_timestamp() - p_window
        ORDER BY x.created_at DESC, x.id DESC LIMIT 1;
        IF FOUND THEN
            RETURN jsonb_build_object('created', false, 'alert', alert_json(a));
        END IF;
    END IF;
    INSERT INTO security_alerts (alert_type, severity, badge_serial, member_id, kiosk_id, message, details, created_at)
    VALUES (p_type, p_severity, p_serial, p_member, p_kiosk, p_message, p_details, clock_timestamp())
    RETURNING * INTO a;
    RETURN jsonb_build_object('created', true, 'alert', alert_json(a));
END $$;

-- Unchanged contract for the scan paths: the new alert's JSON, or NULL when suppressed.
CREATE OR REPLACE FUNCTION raise_security_alert(p_type text, p_severity text, p_serial text, p_member uuid, p_kiosk text,
                                                p_message text, p_details jsonb, p_window interval) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    r jsonb;
BEGIN
    r := raise_or_match_security_alert(p_type, p_severity, p_serial, p_member, p_kiosk, p_message, p_details, p_window);
    IF (r->>'created')::boolean THEN
        RETURN r->'alert';
    END IF;
    RETURN NULL;
END $$;

-- POST /api/security-alerts: raise (or match) and audit in one call. Always returns {created, alert}; one
-- `alert_create` audit row either way (a suppressed duplicate records the request it absorbed).
CREATE FUNCTION create_security_alert(p_type text, p_severity text, p_serial text, p_member uuid, p_kiosk text,
                                      p_message text, p_details jsonb, p_window interval,
                                      p_user uuid, p_api_key text, p_ip text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    r jsonb;
BEGIN
    r := raise_or_match_security_alert(p_type, p_severity, p_serial, p_member, p_kiosk, p_message, p_details, p_window);
    PERFORM write_audit(p_user, p_api_key, p_ip, 'alert_create', 'security_alert', (r->'alert'->>'id')::uuid,
                        CASE WHEN (r->>'created')::boolean THEN jsonb_build_object('after', r->'alert')
                             ELSE jsonb_build_object('suppressed', true, 'after', r->'alert',
                                                     'request', jsonb_build_object('severity', p_severity, 'memberId', p_member,
                                                                                   'message', p_message, 'details', p_details))
                        END);
    RETURN r;
END $$;

-- ---------------------------------------------------------------------------------------------------------
-- The member a badge_disabled alert names (api.md §6 scan row 3): the holder while the badge is assigned to a
-- member (lost/damaged keep their holder); for a returned (unassigned) badge the last holder, i.e. the member
-- of the most recent check-in made with it; NULL for visitor/event badges and badges never used.

CREATE FUNCTION badge_alert_member(b badges) RETURNS uuid
LANGUAGE plpgsql STABLE AS $$
DECLARE
    last_member uuid;
BEGIN
    IF b.assignment_type = 'member' THEN
        RETURN b.assigned_to_id;
    ELSIF b.assignment_type <> 'unassigned' THEN
        RETURN NULL;
    END IF;
    SELECT c.member_id INTO last_member FROM checkins c
    WHERE c.badge_id = b.id
    ORDER BY c."timestamp" DESC, c.created_at DESC, c.id DESC LIMIT 1;
    RETURN last_member;
END $$;

-- ---------------------------------------------------------------------------------------------------------
-- POST /api/checkins/scan — the hot path, one call. Checks in the order of api.md §6 (the timestamp window is
-- checked by the API before calling). Outcomes: OK, BADGE_NOT_FOUND, BADGE_INACTIVE, BADGE_UNASSIGNED,
-- BADGE_TYPE_NOT_SUPPORTED, MEMBER_NOT_FOUND, DUPLICATE_SCAN, LOCKUP_HELD.

CREATE OR REPLACE FUNCTION scan_badge(p_serial text, p_kiosk text, p_ts timestamptz, p_created_by uuid, p_api_key text, p_ip text,
                           p_alert_window interval DEFAULT interval '5 minutes',
                           p_duplicate_window interval DEFAULT interval '2 seconds') RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    serial text := upper(btrim(p_serial, E' \t\r\n\f\v'));
    b badges%ROWTYPE;
    m members%ROWTYPE;
    latest member_presence%ROWTYPE;
    has_latest boolean;
    c checkins%ROWTYPE;
    dir text;
    alert jsonb;
    warning jsonb;
BEGIN
    SELECT * INTO b FROM badges WHERE serial_number = serial;
    IF NOT FOUND THEN
        alert := raise_security_alert('badge_unknown', 'warning', serial, NULL, p_kiosk,
                                      format('Unknown badge %s scanned at %s', serial, p_kiosk),
                                      jsonb_build_object('scannedAt', iso(p_ts)), p_alert_window);
        RETURN jsonb_build_object('outcome', 'BADGE_NOT_FOUND', 'serialNumber', serial, 'alert', alert);
    END IF;
    IF b.status <> 'active' THEN
        alert := raise_security_alert('badge_disabled', 'critical', serial, badge_alert_member(b), p_kiosk,
                                      format('Badge %s is %s and was scanned at %s', serial, b.status, p_kiosk),
                                      jsonb_build_object('badgeId', b.id, 'badgeStatus', b.status,
                                                         'assignmentType', b.assignment_type, 'scannedAt', iso(p_ts)),
                                      p_alert_window);
        RETURN jsonb_build_object('outcome', 'BADGE_INACTIVE', 'serialNumber', serial, 'status', b.status, 'alert', alert);
    END IF;
    IF b.assignment_type = 'unassigned' THEN
        RETURN jsonb_build_object('outcome', 'BADGE_UNASSIGNED', 'serialNumber', serial);
    END IF;
    IF b.assignment_type <> 'member' THEN
        RETURN jsonb_build_object('outcome', 'BADGE_TYPE_NOT_SUPPORTED', 'serialNumber', serial, 'assignmentType', b.assignment_type);
    END IF;

    -- Serialise per member before deciding anything.
    SELECT * INTO m FROM members WHERE id = b.assigned_to_id FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('outcome', 'MEMBER_NOT_FOUND', 'memberId', b.assigned_to_id);
    END IF;
    SELECT * INTO latest FROM member_presence WHERE member_id = m.id;
    has_latest := FOUND;
    IF has_latest AND abs(extract(epoch FROM p_ts - latest.since)) <= extract(epoch FROM p_duplicate_window) THEN
        RETURN jsonb_build_object('outcome', 'DUPLICATE_SCAN', 'memberId', m.id,
                                  'lastCheckinId', latest.last_checkin_id, 'lastTimestamp', iso(latest.since),
                                  'lastDirection', latest.direction);
    END IF;
    dir := CASE WHEN has_latest AND latest.direction = 'in' THEN 'out' ELSE 'in' END;
    IF dir = 'out' AND holds_lockup(m.id) THEN
        RETURN jsonb_build_object('outcome', 'LOCKUP_HELD', 'memberId', m.id, 'details', lockup_held_details(m.id));
    END IF;

    INSERT INTO checkins (member_id, badge_id, direction, "timestamp", kiosk_id, method, created_by_admin)
    VALUES (m.id, b.id, dir, p_ts, p_kiosk, 'badge', p_created_by)
    RETURNING * INTO c;
    UPDATE badges SET last_used = greatest(coalesce(last_used, p_ts), p_ts) WHERE id = b.id;

    IF m.status <> 'active' THEN
        warning := jsonb_build_object('type', 'inactive_member',
                                      'message', format('%s %s %s is %s; check-in recorded', m.rank, m.first_name, m.last_name, m.status));
        alert := raise_security_alert('inactive_member', 'warning', serial, m.id, p_kiosk,
                                      format('%s member %s %s %s scanned badge %s at %s', m.status, m.rank, m.first_name, m.last_name, serial, p_kiosk),
                                      jsonb_build_object('memberStatus', m.status, 'checkinId', c.id), p_alert_window);
    END IF;
    PERFORM write_audit(p_created_by, p_api_key, p_ip, 'checkin_create', 'checkin', c.id,
                        jsonb_build_object('method', 'scan', 'memberId', m.id, 'badgeSerial', serial,
                                           'direction', dir, 'kioskId', p_kiosk, 'timestamp', iso(p_ts)));
    RETURN jsonb_build_object(
        'outcome', 'OK',
        'checkin', checkin_json(c, m),
        'member', jsonb_build_object('id', m.id, 'firstName', m.first_name, 'lastName', m.last_name, 'rank', m.rank,
                                     'division', (SELECT d.name FROM divisions d WHERE d.id = m.division_id)),
        'direction', dir,
        'warning', warning,
        'alert', alert,
        'event', checkin_event_json(c, m),
        'presence', presence_figures());
END $$;

-- A check-in with a known member and direction: POST /api/checkins, each item of /bulk, manual checkout.
-- Outcomes: OK (with `duplicate` when (kiosk, clientRef) already exists), MEMBER_NOT_FOUND, BADGE_NOT_FOUND,
-- BADGE_MEMBER_MISMATCH, NOT_CHECKED_IN (p_require_present and the member is not present: domain §5.3), LOCKUP_HELD.

CREATE OR REPLACE FUNCTION record_checkin(p_member uuid, p_badge uuid, p_direction text, p_kiosk text, p_method text,
                               p_ts timestamptz, p_flagged boolean, p_flag_reason text, p_client_ref text,
                               p_created_by uuid, p_check_lockup boolean, p_require_present boolean,
                               p_api_key text, p_ip text, p_audit_action text, p_audit_details jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    m members%ROWTYPE;
    b badges%ROWTYPE;
    badge uuid;
    c checkins%ROWTYPE;
    existing_member members%ROWTYPE;
BEGIN
    IF p_client_ref IS NOT NULL THEN
        SELECT * INTO c FROM checkins WHERE kiosk_id = p_kiosk AND client_ref = p_client_ref;
        IF FOUND THEN
            SELECT * INTO existing_member FROM members WHERE id = c.member_id;
            RETURN jsonb_build_object('outcome', 'OK', 'duplicate', true, 'checkin', checkin_json(c, existing_member));
        END IF;
    END IF;
    SELECT * INTO m FROM members WHERE id = p_member FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('outcome', 'MEMBER_NOT_FOUND', 'memberId', p_member);
    END IF;
    IF p_badge IS NOT NULL THEN
        SELECT * INTO b FROM badges WHERE id = p_badge;
        IF NOT FOUND THEN
            RETURN jsonb_build_object('outcome', 'BADGE_NOT_FOUND', 'badgeId', p_badge);
        END IF;
        IF b.assignment_type <> 'member' OR b.assigned_to_id <> m.id THEN
            RETURN jsonb_build_object('outcome', 'BADGE_MEMBER_MISMATCH', 'badgeId', p_badge, 'memberId', m.id);
        END IF;
        badge := b.id;
    ELSE
        badge := m.badge_id;
    END IF;
    -- Present (domain §5.3) = status active AND latest check-in `in`.
    IF p_require_present AND (m.status <> 'active'
                              OR NOT EXISTS (SELECT 1 FROM member_presence WHERE member_id = m.id AND direction = 'in')) THEN
        RETURN jsonb_build_object('outcome', 'NOT_CHECKED_IN', 'memberId', m.id);
    END IF;
    IF p_check_lockup AND p_direction = 'out' AND holds_lockup(m.id) THEN
        RETURN jsonb_build_object('outcome', 'LOCKUP_HELD', 'memberId', m.id, 'details', lockup_held_details(m.id));
    END IF;
    INSERT INTO checkins (member_id, badge_id, direction, "timestamp", kiosk_id, method, created_by_admin,
                          flagged_for_review, flag_reason, client_ref)
    VALUES (m.id, badge, p_direction, p_ts, p_kiosk, p_method, p_created_by, coalesce(p_flagged, false), p_flag_reason, p_client_ref)
    ON CONFLICT ON CONSTRAINT checkins_kiosk_id_client_ref_key DO NOTHING
    RETURNING * INTO c;
    IF NOT FOUND THEN
        -- The same (kiosk, clientRef) was committed concurrently.
        SELECT * INTO c FROM checkins WHERE kiosk_id = p_kiosk AND client_ref = p_client_ref;
        SELECT * INTO existing_member FROM members WHERE id = c.member_id;
        RETURN jsonb_build_object('outcome', 'OK', 'duplicate', true, 'checkin', checkin_json(c, existing_member));
    END IF;
    PERFORM write_audit(p_created_by, p_api_key, p_ip, p_audit_action, 'checkin', c.id,
                        jsonb_build_object('after', checkin_json(c, NULL) - 'member') || coalesce(p_audit_details, '{}'::jsonb));
    RETURN jsonb_build_object('outcome', 'OK', 'duplicate', false, 'checkin', checkin_json(c, m), 'event', checkin_event_json(c, m));
END $$;

-- The per-item result of a sync item that is already stored (api.md §6 /sync rule 3).
CREATE FUNCTION sync_duplicate_result(c checkins) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'success', true, 'duplicate', true, 'checkinId', c.id, 'memberId', c.member_id,
        'memberName', (SELECT m.first_name || ' ' || m.last_name FROM members m WHERE m.id = c.member_id),
        'direction', c.direction, 'flagged', c.flagged_for_review)
$$;

-- POST /api/checkins/sync (offline replay, api.md §6). The API sorts the items by timestamp, collapses repeats
-- of a serial within 5 s into the earliest (`collapsedInto`) and computes clock-drift reasons; this function
-- stores each remaining item exactly once. Idempotency (rule 3): (kiosk, clientRef), or without clientRef
-- (kiosk, badge, timestamp), looked up first — an item already stored is `duplicate` whatever has happened to
-- its badge or member since (V9) — and again after the member lock so concurrent replays cannot both insert.
-- Direction per member against the timeline: the opposite of the latest check-in before the item's timestamp.

CREATE OR REPLACE FUNCTION sync_scans(p_kiosk text, p_items jsonb, p_created_by uuid, p_api_key text, p_ip text,
                           p_alert_window interval DEFAULT interval '5 minutes') RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    item record;
    serial text;
    b badges%ROWTYPE;
    m members%ROWTYPE;
    c checkins%ROWTYPE;
    found_existing boolean;
    previous_direction text;
    dir text;
    out_of_order boolean;
    reason text;
    results jsonb := '{}'::jsonb;
    res jsonb;
    events jsonb := '[]'::jsonb;
    alerts jsonb := '[]'::jsonb;
    alert jsonb;
    has_badge boolean;
BEGIN
    FOR item IN
        SELECT x.* FROM jsonb_to_recordset(p_items) AS x("index" int, "serialNumber" text, "timestamp" timestamptz,
                                                         "clientRef" text, "driftReason" text, "collapsedInto" int)
        ORDER BY x."timestamp", x."index"
    LOOP
        serial := upper(btrim(item."serialNumber", E' \t\r\n\f\v'));
        IF item."collapsedInto" IS NOT NULL AND results ? item."collapsedInto"::text THEN
            res := (results -> item."collapsedInto"::text) || jsonb_build_object('serialNumber', item."serialNumber",
                     'timestamp', iso(item."timestamp"), 'duplicate', true);
            results := results || jsonb_build_object(item."index"::text, res);
            CONTINUE;
        END IF;
        res := jsonb_build_object('serialNumber', item."serialNumber", 'timestamp', iso(item."timestamp"));
        SELECT * INTO b FROM badges WHERE serial_number = serial;
        has_badge := FOUND;
        -- Idempotency before any validation: a retry of a stored item succeeds as a duplicate even if the badge
        -- has since been lost, returned or reassigned, and raises nothing.
        found_existing := false;
        IF item."clientRef" IS NOT NULL THEN
            SELECT * INTO c FROM checkins WHERE kiosk_id = p_kiosk AND client_ref = item."clientRef";
            found_existing := FOUND;
        ELSIF has_badge THEN
            SELECT * INTO c FROM checkins WHERE kiosk_id = p_kiosk AND badge_id = b.id AND "timestamp" = item."timestamp" LIMIT 1;
            found_existing := FOUND;
        END IF;
        IF found_existing THEN
            results := results || jsonb_build_object(item."index"::text, res || sync_duplicate_result(c));
            CONTINUE;
        END IF;
        IF NOT has_badge THEN
            alert := raise_security_alert('badge_unknown', 'warning', serial, NULL, p_kiosk,
                                          format('Unknown badge %s scanned at %s (offline)', serial, p_kiosk),
                                          jsonb_build_object('scannedAt', iso(item."timestamp"), 'offline', true), p_alert_window);
            IF alert IS NOT NULL THEN alerts := alerts || jsonb_build_array(alert); END IF;
            results := results || jsonb_build_object(item."index"::text, res || '{"success": false, "error": "Badge not found or not assigned"}'::jsonb);
            CONTINUE;
        END IF;
        IF b.status <> 'active' THEN
            alert := raise_security_alert('badge_disabled', 'critical', serial, badge_alert_member(b), p_kiosk,
                                          format('Badge %s is %s and was scanned at %s (offline)', serial, b.status, p_kiosk),
                                          jsonb_build_object('badgeId', b.id, 'badgeStatus', b.status,
                                                             'scannedAt', iso(item."timestamp"), 'offline', true), p_alert_window);
            IF alert IS NOT NULL THEN alerts := alerts || jsonb_build_array(alert); END IF;
            results := results || jsonb_build_object(item."index"::text, res || jsonb_build_object('success', false, 'error', 'Badge is ' || b.status));
            CONTINUE;
        END IF;
        IF b.assignment_type <> 'member' THEN
            results := results || jsonb_build_object(item."index"::text, res || '{"success": false, "error": "Badge not found or not assigned"}'::jsonb);
            CONTINUE;
        END IF;
        SELECT * INTO m FROM members WHERE id = b.assigned_to_id FOR NO KEY UPDATE;
        IF NOT FOUND THEN
            results := results || jsonb_build_object(item."index"::text, res || '{"success": false, "error": "Badge not found or not assigned"}'::jsonb);
            CONTINUE;
        END IF;
        -- Again under the member lock: a concurrent replay of the same item may have committed meanwhile.
        IF item."clientRef" IS NOT NULL THEN
            SELECT * INTO c FROM checkins WHERE kiosk_id = p_kiosk AND client_ref = item."clientRef";
        ELSE
            SELECT * INTO c FROM checkins WHERE kiosk_id = p_kiosk AND badge_id = b.id AND "timestamp" = item."timestamp" LIMIT 1;
        END IF;
        found_existing := FOUND;
        IF NOT found_existing THEN
            SELECT x.direction INTO previous_direction FROM checkins x
            WHERE x.member_id = m.id AND x."timestamp" < item."timestamp"
            ORDER BY x."timestamp" DESC, x.created_at DESC, x.id DESC LIMIT 1;
            dir := CASE WHEN FOUND AND previous_direction = 'in' THEN 'out' ELSE 'in' END;
            out_of_order := EXISTS (SELECT 1 FROM checkins x WHERE x.member_id = m.id AND x."timestamp" > item."timestamp");
            reason := nullif(concat_ws('; ', item."driftReason", CASE WHEN out_of_order THEN 'out_of_order' END), '');
            INSERT INTO checkins (member_id, badge_id, direction, "timestamp", kiosk_id, synced, method,
                                  flagged_for_review, flag_reason, client_ref, created_by_admin)
            VALUES (m.id, b.id, dir, item."timestamp", p_kiosk, false, 'badge', reason IS NOT NULL, left(reason, 255),
                    item."clientRef", p_created_by)
            ON CONFLICT ON CONSTRAINT checkins_kiosk_id_client_ref_key DO NOTHING
            RETURNING * INTO c;
            IF NOT FOUND THEN
                SELECT * INTO c FROM checkins WHERE kiosk_id = p_kiosk AND client_ref = item."clientRef";
                found_existing := true;
            END IF;
        END IF;
        IF found_existing THEN
            results := results || jsonb_build_object(item."index"::text, res || sync_duplicate_result(c));
            CONTINUE;
        END IF;
        UPDATE badges SET last_used = greatest(coalesce(last_used, item."timestamp"), item."timestamp") WHERE id = b.id;
        IF m.status <> 'active' THEN
            alert := raise_security_alert('inactive_member', 'warning', serial, m.id, p_kiosk,
                                          format('%s member %s %s %s scanned badge %s at %s (offline)', m.status, m.rank, m.first_name, m.last_name, serial, p_kiosk),
                                          jsonb_build_object('memberStatus', m.status, 'checkinId', c.id, 'offline', true), p_alert_window);
            IF alert IS NOT NULL THEN alerts := alerts || jsonb_build_array(alert); END IF;
        END IF;
        PERFORM write_audit(p_created_by, p_api_key, p_ip, 'checkin_create', 'checkin', c.id,
                            jsonb_build_object('method', 'sync', 'memberId', m.id, 'badgeSerial', serial, 'direction', dir,
                                               'kioskId', p_kiosk, 'timestamp', iso(c."timestamp"), 'clientRef', item."clientRef",
                                               'flagReason', c.flag_reason));
        events := events || jsonb_build_array(checkin_event_json(c, m));
        results := results || jsonb_build_object(item."index"::text, res || jsonb_build_object(
            'success', true, 'duplicate', false, 'checkinId', c.id, 'memberId', m.id,
            'memberName', m.first_name || ' ' || m.last_name, 'direction', dir, 'flagged', c.flagged_for_review));
    END LOOP;
    RETURN jsonb_build_object(
        'results', (SELECT coalesce(jsonb_agg(value ORDER BY key::int), '[]'::jsonb) FROM jsonb_each(results)),
        'events', events, 'alerts', alerts, 'presence', presence_figures());
END $$;

-- ---------------------------------------------------------------------------------------------------------
-- Badge assignment (domain §5.1).

-- POST /api/badges/:id/assign. Outcomes: OK, NOT_FOUND, HOLDER_NOT_FOUND, BADGE_NOT_ACTIVE,
-- BADGE_ALREADY_ASSIGNED, MEMBER_HAS_BADGE. Re-assigning the same holder is OK with changed = false, and like
-- every successful call it writes one audit row (api.md §0.7; details.changed tells the two apart).
CREATE OR REPLACE FUNCTION badge_assign(p_badge uuid, p_type text, p_holder uuid, p_user uuid, p_api_key text, p_ip text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    b badges%ROWTYPE;
    outcome text;
BEGIN
    SELECT * INTO b FROM badges WHERE id = p_badge FOR UPDATE;
    IF NOT FOUND THEN RETURN jsonb_build_object('outcome', 'NOT_FOUND'); END IF;
    IF NOT badge_holder_exists(p_type, p_holder) THEN
        RETURN jsonb_build_object('outcome', 'HOLDER_NOT_FOUND', 'holderId', p_holder);
    END IF;
    IF b.assignment_type = p_type AND b.assigned_to_id = p_holder THEN
        PERFORM write_audit(p_user, p_api_key, p_ip, 'badge_assign', 'badge', b.id,
                            jsonb_build_object('assignmentType', p_type, 'assignedToId', p_holder, 'changed', false));
        RETURN jsonb_build_object('outcome', 'OK', 'changed', false, 'badge', badge_json(b));
    END IF;
    IF b.status <> 'active' THEN RETURN jsonb_build_object('outcome', 'BADGE_NOT_ACTIVE', 'status', b.status); END IF;
    IF b.assignment_type <> 'unassigned' THEN RETURN jsonb_build_object('outcome', 'BADGE_ALREADY_ASSIGNED'); END IF;
    outcome := badge_link(b.id, p_type, p_holder);
    IF outcome <> 'OK' THEN RETURN jsonb_build_object('outcome', outcome); END IF;
    SELECT * INTO b FROM badges WHERE id = p_badge;
    PERFORM write_audit(p_user, p_api_key, p_ip, 'badge_assign', 'badge', b.id,
                        jsonb_build_object('assignmentType', p_type, 'assignedToId', p_holder, 'changed', true));
    RETURN jsonb_build_object('outcome', 'OK', 'changed', true, 'badge', badge_json(b));
END $$;

-- ---------------------------------------------------------------------------------------------------------
-- Members: POST /api/members (p_id NULL) and PATCH /api/members/:id. `f` holds only the fields the client
-- sent (validated by the API). Outcomes: OK, NOT_FOUND, INVALID_RANK, DIVISION_NOT_FOUND, MEMBER_TYPE_NOT_FOUND,
-- MEMBER_STATUS_NOT_FOUND, STATUS_MISMATCH, BADGE_NOT_FOUND, BADGE_NOT_ASSIGNABLE, DUPLICATE_SERVICE_NUMBER.
-- A badge change unassigns the previous badge and links the new one (domain §5.1), all in this call.
-- `presenceChanged` (V9): the write can move the presence figures (realtime.md §5) — an active member was
-- created, the status changed, or the division of a member who is or was active changed.

CREATE OR REPLACE FUNCTION member_save(p_id uuid, f jsonb, p_user uuid, p_api_key text, p_ip text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    m members%ROWTYPE;
    before jsonb;
    rank_code text;
    type_code text;
    status_code text;
    new_badge uuid;
    old_badge badges%ROWTYPE;
    nb badges%ROWTYPE;
    badge_changes jsonb := '[]'::jsonb;
BEGIN
    IF p_id IS NOT NULL THEN
        SELECT * INTO m FROM members WHERE id = p_id FOR UPDATE;
        IF NOT FOUND THEN RETURN jsonb_build_object('outcome', 'NOT_FOUND'); END IF;
        before := member_json(m);
    END IF;
    IF f ? 'rank' THEN
        SELECT code INTO rank_code FROM ranks WHERE lower(code) = lower(f->>'rank');
        IF NOT FOUND THEN RETURN jsonb_build_object('outcome', 'INVALID_RANK', 'rank', f->>'rank'); END IF;
    END IF;
    IF f ? 'divisionId' AND NOT EXISTS (SELECT 1 FROM divisions WHERE id = (f->>'divisionId')::uuid) THEN
        RETURN jsonb_build_object('outcome', 'DIVISION_NOT_FOUND', 'id', f->>'divisionId');
    END IF;
    IF f->>'memberTypeId' IS NOT NULL THEN
        SELECT code INTO type_code FROM member_types WHERE id = (f->>'memberTypeId')::uuid;
        IF NOT FOUND THEN RETURN jsonb_build_object('outcome', 'MEMBER_TYPE_NOT_FOUND', 'id', f->>'memberTypeId'); END IF;
    END IF;
    IF f->>'memberStatusId' IS NOT NULL THEN
        SELECT code INTO status_code FROM member_statuses WHERE id = (f->>'memberStatusId')::uuid;
        IF NOT FOUND THEN RETURN jsonb_build_object('outcome', 'MEMBER_STATUS_NOT_FOUND', 'id', f->>'memberStatusId'); END IF;
        IF f->>'status' IS NOT NULL AND f->>'status' <> status_code THEN RETURN jsonb_build_object('outcome', 'STATUS_MISMATCH'); END IF;
    ELSIF f->>'status' IS NOT NULL THEN
        SELECT code INTO status_code FROM member_statuses WHERE code = f->>'status';
        IF NOT FOUND THEN RETURN jsonb_build_object('outcome', 'MEMBER_STATUS_NOT_FOUND', 'id', f->>'status'); END IF;
    END IF;
    IF f ? 'badgeId' THEN
        new_badge := (f->>'badgeId')::uuid;
        IF new_badge IS NOT NULL THEN
            SELECT * INTO nb FROM badges WHERE id = new_badge FOR UPDATE;
            IF NOT FOUND THEN RETURN jsonb_build_object('outcome', 'BADGE_NOT_FOUND', 'id', new_badge); END IF;
            IF NOT (nb.assignment_type = 'member' AND nb.assigned_to_id IS NOT DISTINCT FROM p_id)
               AND (nb.status <> 'active' OR nb.assignment_type <> 'unassigned') THEN
                RETURN jsonb_build_object('outcome', 'BADGE_NOT_ASSIGNABLE', 'id', new_badge, 'status', nb.status,
                                          'assignmentType', nb.assignment_type);
            END IF;
        END IF;
    END IF;
    IF f ? 'serviceNumber' AND EXISTS (SELECT 1 FROM members WHERE service_number = f->>'serviceNumber' AND id IS DISTINCT FROM p_id) THEN
        RETURN jsonb_build_object('outcome', 'DUPLICATE_SERVICE_NUMBER', 'serviceNumber', f->>'serviceNumber');
    END IF;

    BEGIN
        IF p_id IS NULL THEN
            INSERT INTO members (service_number, rank, first_name, last_name, initials, email, mobile_phone, division_id,
                                 badge_id, member_type, status)
            VALUES (f->>'serviceNumber', rank_code, f->>'firstName', f->>'lastName', f->>'middleInitial', f->>'email',
                    f->>'phoneNumber', (f->>'divisionId')::uuid, new_badge, coalesce(type_code, 'class_a'),
                    coalesce(status_code, 'active'))
            RETURNING * INTO m;
        ELSE
            IF f ? 'badgeId' AND m.badge_id IS DISTINCT FROM new_badge AND m.badge_id IS NOT NULL THEN
                SELECT * INTO old_badge FROM badges WHERE id = m.badge_id FOR UPDATE;
                UPDATE badges SET assignment_type = 'unassigned', assigned_to_id = NULL WHERE id = old_badge.id;
                badge_changes := badge_changes || jsonb_build_array(old_badge.id);
            END IF;
            UPDATE members SET
                service_number = CASE WHEN f ? 'serviceNumber' THEN f->>'serviceNumber' ELSE service_number END,
                rank = coalesce(rank_code, rank),
                first_name = CASE WHEN f ? 'firstName' THEN f->>'firstName' ELSE first_name END,
                last_name = CASE WHEN f ? 'lastName' THEN f->>'lastName' ELSE last_name END,
                initials = CASE WHEN f ? 'middleInitial' THEN f->>'middleInitial' ELSE initials END,
                email = CASE WHEN f ? 'email' THEN f->>'email' ELSE email END,
                mobile_phone = CASE WHEN f ? 'phoneNumber' THEN f->>'phoneNumber' ELSE mobile_phone END,
                home_phone = CASE WHEN f ? 'phoneNumber' AND f->>'phoneNumber' IS NULL THEN NULL ELSE home_phone END,
                division_id = CASE WHEN f ? 'divisionId' THEN (f->>'divisionId')::uuid ELSE division_id END,
                badge_id = CASE WHEN f ? 'badgeId' THEN new_badge ELSE badge_id END,
                member_type = coalesce(type_code, member_type),
                status = coalesce(status_code, status)
            WHERE id = p_id
            RETURNING * INTO m;
        END IF;
    EXCEPTION WHEN unique_violation THEN
        -- A concurrent insert of the same service number.
        RETURN jsonb_build_object('outcome', 'DUPLICATE_SERVICE_NUMBER', 'serviceNumber', f->>'serviceNumber');
    END;
    IF new_badge IS NOT NULL AND NOT (nb.assignment_type = 'member' AND nb.assigned_to_id = m.id) THEN
        UPDATE badges SET assignment_type = 'member', assigned_to_id = m.id WHERE id = new_badge;
        badge_changes := badge_changes || jsonb_build_array(new_badge);
    END IF;
    PERFORM write_audit(p_user, p_api_key, p_ip, CASE WHEN p_id IS NULL THEN 'member_create' ELSE 'member_update' END,
                        'member', m.id, jsonb_build_object('before', before, 'after', member_json(m)));
    RETURN jsonb_build_object(
        'outcome', 'OK', 'member', member_json(m),
        'statusChanged', p_id IS NOT NULL AND before->>'status' IS DISTINCT FROM m.status,
        'presenceChanged', CASE WHEN p_id IS NULL THEN m.status = 'active'
                                ELSE before->>'status' IS DISTINCT FROM m.status
                                     OR ((before->>'divisionId')::uuid IS DISTINCT FROM m.division_id
                                         AND 'active' IN (before->>'status', m.status)) END,
        'badges', (SELECT coalesce(jsonb_agg(badge_json(x)), '[]'::jsonb) FROM badges x
                   WHERE x.id IN (SELECT (value #>> '{}')::uuid FROM jsonb_array_elements(badge_changes))));
END $$;
