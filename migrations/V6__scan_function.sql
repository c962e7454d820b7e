-- The kiosk flow in the database (api.md §3, §5, §6, §10): the API's JSON shapes, presence figures, security
-- alerts with duplicate suppression, and the write paths of members, badges and check-ins as functions that
-- validate, decide, write (audit row included) and return everything the response and the realtime events
-- need — one round trip per request. Outcomes are returned as an `outcome` code in the jsonb result instead
-- of RAISE: through Spin, errors raised inside a function called via `query` arrive as bare text.
--
-- Concurrency. Every check-in writer locks the member row first (FOR NO KEY UPDATE, the lock the presence
-- trigger takes too), then reads member_presence / checkins in a fresh statement. Under READ COMMITTED each
-- statement of a VOLATILE function sees everything committed before it started, so after the lock the
-- direction decision and the 2 s duplicate rule see the check-in of any concurrent scan of the same member.

-- ---------------------------------------------------------------------------------------------------------
-- JSON shapes (api.md §2)

CREATE FUNCTION member_json(m members) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', m.id, 'serviceNumber', m.service_number, 'rank', m.rank,
        'firstName', m.first_name, 'lastName', m.last_name, 'middleInitial', m.initials,
        'email', m.email, 'phoneNumber', coalesce(m.mobile_phone, m.home_phone),
        'divisionId', m.division_id, 'badgeId', m.badge_id,
        'memberTypeId', (SELECT t.id FROM member_types t WHERE t.code = m.member_type),
        'memberStatusId', (SELECT s.id FROM member_statuses s WHERE s.code = m.status),
        'status', m.status, 'memberType', m.member_type,
        'createdAt', iso(m.created_at), 'updatedAt', iso(m.updated_at))
$$;

-- Checkin with its `member` summary (m may be NULL).
CREATE FUNCTION checkin_json(c checkins, m members) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', c.id, 'memberId', c.member_id, 'badgeId', c.badge_id, 'direction', c.direction,
        'timestamp', iso(c."timestamp"), 'kioskId', c.kiosk_id, 'synced', c.synced,
        'flaggedForReview', c.flagged_for_review, 'flagReason', c.flag_reason, 'method', c.method,
        'createdByAdmin', c.created_by_admin, 'createdAt', iso(c.created_at),
        'member', CASE WHEN m.id IS NULL THEN NULL ELSE jsonb_build_object(
            'id', m.id, 'serviceNumber', m.service_number, 'rank', m.rank,
            'firstName', m.first_name, 'lastName', m.last_name, 'divisionId', m.division_id) END)
$$;

-- Payload of the realtime `checkin:new` event (realtime.md §5).
CREATE FUNCTION checkin_event_json(c checkins, m members) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', c.id, 'memberId', c.member_id, 'memberName', m.first_name || ' ' || m.last_name, 'rank', m.rank,
        'division', coalesce((SELECT d.name FROM divisions d WHERE d.id = m.division_id), 'Unknown'),
        'direction', c.direction, 'timestamp', iso(c."timestamp"), 'kioskId', c.kiosk_id, 'method', c.method)
$$;

CREATE FUNCTION badge_json(b badges) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', b.id, 'serialNumber', b.serial_number, 'assignmentType', b.assignment_type,
        'assignedToId', b.assigned_to_id, 'status', b.status,
        'badgeStatusId', (SELECT s.id FROM badge_statuses s WHERE s.code = b.status),
        'lastUsed', iso(b.last_used),
        'assignedTo', CASE b.assignment_type
            WHEN 'member' THEN (SELECT jsonb_build_object('id', m.id, 'name', m.rank || ' ' || m.first_name || ' ' || m.last_name, 'type', 'member')
                                FROM members m WHERE m.id = b.assigned_to_id)
            WHEN 'visitor' THEN (SELECT jsonb_build_object('id', v.id, 'name', v.name, 'type', 'visitor')
                                 FROM visitors v WHERE v.id = b.assigned_to_id)
            WHEN 'event' THEN (SELECT jsonb_build_object('id', a.id, 'name', a.name, 'type', 'event')
                               FROM event_attendees a WHERE a.id = b.assigned_to_id)
        END,
        'createdAt', iso(b.created_at), 'updatedAt', iso(b.updated_at))
$$;

CREATE FUNCTION alert_json(a security_alerts) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', a.id, 'alertType', a.alert_type, 'severity', a.severity, 'badgeSerial', a.badge_serial,
        'memberId', a.member_id, 'kioskId', a.kiosk_id, 'message', a.message, 'details', a.details,
        'status', a.status, 'createdAt', iso(a.created_at), 'acknowledgedBy', a.acknowledged_by,
        'acknowledgedAt', iso(a.acknowledged_at), 'acknowledgeNote', a.acknowledge_note)
$$;

-- Presence (domain §5.3): the body of GET /api/checkins/presence and of `presence:update`.
CREATE FUNCTION presence_figures() RETURNS jsonb
LANGUAGE sql STABLE AS $$
    WITH per_division AS (
        SELECT d.id, d.name,
               count(m.id) AS total,
               count(p.member_id) AS present
        FROM divisions d
        LEFT JOIN members m ON m.division_id = d.id AND m.status = 'active'
        LEFT JOIN member_presence p ON p.member_id = m.id AND p.direction = 'in'
        GROUP BY d.id, d.name
    )
    SELECT jsonb_build_object(
        'totalPresent', (SELECT count(*) FROM present_members),
        'totalMembers', (SELECT count(*) FROM members WHERE status = 'active'),
        'byDivision', coalesce((SELECT jsonb_agg(jsonb_build_object('divisionId', id, 'divisionName', name,
                                                                   'present', present, 'total', total)
                                                 ORDER BY name, id) FROM per_division), '[]'::jsonb),
        'lastUpdated', iso(now()),
        'visitorsPresent', (SELECT count(*) FROM visitors WHERE check_out_time IS NULL))
$$;

-- ---------------------------------------------------------------------------------------------------------
-- Audit rows written from inside functions (same shape as the API's audit CTE).

CREATE FUNCTION write_audit(p_user uuid, p_api_key text, p_ip text, p_action text, p_entity_type text,
                            p_entity uuid, p_details jsonb) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO audit_log (admin_user_id, action, entity_type, entity_id, details, ip_address)
    VALUES (p_user, p_action, p_entity_type, p_entity,
            coalesce(p_details, '{}'::jsonb)
              || CASE WHEN p_api_key IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('apiKeyId', p_api_key) END,
            p_ip::inet)
$$;

-- ---------------------------------------------------------------------------------------------------------
-- Security alerts with duplicate suppression (api.md §6 rule 5): an active alert of the same type, badge
-- serial and kiosk created within p_window is kept and nothing new is created. A transaction-scoped advisory
-- lock on the triple makes the check race-free. Returns the new alert's JSON, or NULL when suppressed.

CREATE INDEX security_alerts_suppression_idx ON security_alerts (alert_type, kiosk_id, badge_serial, created_at DESC)
    WHERE status = 'active';

CREATE FUNCTION raise_security_alert(p_type text, p_severity text, p_serial text, p_member uuid, p_kiosk text,
                                     p_message text, p_details jsonb, p_window interval) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    created security_alerts%ROWTYPE;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('security_alert:' || p_type || ':' || p_kiosk || ':' || coalesce(p_serial, ''), 0));
    IF p_window > interval '0' AND EXISTS (
        SELECT 1 FROM security_alerts a
        WHERE a.status = 'active' AND a.alert_type = p_type AND a.kiosk_id = p_kiosk
          AND a.badge_serial IS NOT DISTINCT FROM p_serial AND a.created_at > clock_timestamp() - p_window) THEN
        RETURN NULL;
    END IF;
    INSERT INTO security_alerts (alert_type, severity, badge_serial, member_id, kiosk_id, message, details, created_at)
    VALUES (p_type, p_severity, p_serial, p_member, p_kiosk, p_message, p_details, clock_timestamp())
    RETURNING * INTO created;
    RETURN alert_json(created);
END $$;

-- Whether the member holds the system Lockup tag (api.md §6 LOCKUP_HELD).
CREATE FUNCTION holds_lockup(p_member uuid) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM member_tags mt JOIN tags t ON t.id = mt.tag_id
                   WHERE mt.member_id = p_member AND t.name = 'Lockup' AND t.is_system)
$$;

-- The details of a LOCKUP_HELD refusal: who could take the tag over (present active members other than the holder).
CREATE FUNCTION lockup_held_details(p_member uuid) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    WITH recipients AS (
        SELECT m.id, m.rank, m.first_name, m.last_name
        FROM present_members pm JOIN members m ON m.id = pm.member_id
        WHERE m.id <> p_member ORDER BY m.last_name, m.first_name LIMIT 50
    )
    SELECT jsonb_build_object(
        'holdsLockup', true,
        'availableOptions', CASE WHEN EXISTS (SELECT 1 FROM recipients)
                                 THEN '["transfer_lockup", "execute_lockup"]'::jsonb ELSE '["execute_lockup"]'::jsonb END,
        'eligibleRecipients', coalesce((SELECT jsonb_agg(jsonb_build_object('id', id, 'rank', rank, 'firstName', first_name,
                                                                          'lastName', last_name)) FROM recipients), '[]'::jsonb))
$$;

-- ---------------------------------------------------------------------------------------------------------
-- POST /api/checkins/scan — the hot path, one call. Checks in the order of api.md §6 (the timestamp window is
-- checked by the API before calling). Outcomes: OK, BADGE_NOT_FOUND, BADGE_INACTIVE, BADGE_UNASSIGNED,
-- BADGE_TYPE_NOT_SUPPORTED, MEMBER_NOT_FOUND, DUPLICATE_SCAN, LOCKUP_HELD.

CREATE FUNCTION scan_badge(p_serial text, p_kiosk text, p_ts timestamptz, p_created_by uuid, p_api_key text, p_ip text,
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
        alert := raise_security_alert('badge_disabled', 'critical', serial,
                                      CASE WHEN b.assignment_type = 'member' THEN b.assigned_to_id END, p_kiosk,
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

-- ---------------------------------------------------------------------------------------------------------
-- A check-in with a known member and direction: POST /api/checkins, each item of /bulk, manual checkout.
-- Outcomes: OK (with `duplicate` when (kiosk, clientRef) already exists), MEMBER_NOT_FOUND, BADGE_NOT_FOUND,
-- BADGE_MEMBER_MISMATCH, NOT_CHECKED_IN, LOCKUP_HELD.

CREATE FUNCTION record_checkin(p_member uuid, p_badge uuid, p_direction text, p_kiosk text, p_method text,
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
    IF p_require_present AND NOT EXISTS (SELECT 1 FROM member_presence WHERE member_id = m.id AND direction = 'in') THEN
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

-- POST /api/checkins/bulk: items (already schema-validated and normalised by the API: index, memberId, badgeId,
-- direction, kioskId, method, timestamp, flaggedForReview, flagReason, clientRef) in ascending timestamp order.
CREATE FUNCTION bulk_checkins(p_items jsonb, p_created_by uuid, p_api_key text, p_ip text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    item record;
    r jsonb;
    created int := 0;
    errors jsonb := '[]'::jsonb;
    events jsonb := '[]'::jsonb;
BEGIN
    FOR item IN
        SELECT x.* FROM jsonb_to_recordset(p_items) AS x("index" int, "memberId" uuid, "badgeId" uuid, direction text,
                                                         "kioskId" text, method text, "timestamp" timestamptz,
                                                         "flaggedForReview" boolean, "flagReason" text, "clientRef" text)
        ORDER BY x."timestamp", x."index"
    LOOP
        r := record_checkin(item."memberId", item."badgeId", item.direction, item."kioskId", item.method, item."timestamp",
                            item."flaggedForReview", item."flagReason", item."clientRef", p_created_by, false, false,
                            p_api_key, p_ip, 'checkin_create', jsonb_build_object('method', 'bulk'));
        IF r->>'outcome' = 'OK' THEN
            created := created + 1;
            IF r ? 'event' THEN
                events := events || jsonb_build_array(r->'event');
            END IF;
        ELSE
            errors := errors || jsonb_build_array(jsonb_build_object('index', item."index", 'error', r->>'outcome',
                'message', CASE r->>'outcome'
                    WHEN 'MEMBER_NOT_FOUND' THEN format('Member %s not found', item."memberId")
                    WHEN 'BADGE_NOT_FOUND' THEN format('Badge %s not found', item."badgeId")
                    WHEN 'BADGE_MEMBER_MISMATCH' THEN format('Badge %s is not assigned to member %s', item."badgeId", item."memberId")
                    ELSE r->>'outcome' END));
        END IF;
    END LOOP;
    RETURN jsonb_build_object('success', created, 'failed', jsonb_array_length(errors),
                              'errors', (SELECT coalesce(jsonb_agg(e ORDER BY (e->>'index')::int), '[]'::jsonb) FROM jsonb_array_elements(errors) e),
                              'events', events, 'presence', presence_figures());
END $$;

-- ---------------------------------------------------------------------------------------------------------
-- POST /api/checkins/sync (offline replay, api.md §6). The API sorts the items by timestamp, collapses repeats
-- of a serial within 5 s into the earliest (`collapsedInto`) and computes clock-drift reasons; this function
-- stores each remaining item exactly once. Idempotency: (kiosk, clientRef), or without clientRef
-- (kiosk, badge, timestamp), checked after the member lock so concurrent replays of a batch cannot both insert.
-- Direction per member against the timeline: the opposite of the latest check-in before the item's timestamp.

CREATE FUNCTION sync_scans(p_kiosk text, p_items jsonb, p_created_by uuid, p_api_key text, p_ip text,
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
        IF NOT FOUND THEN
            alert := raise_security_alert('badge_unknown', 'warning', serial, NULL, p_kiosk,
                                          format('Unknown badge %s scanned at %s (offline)', serial, p_kiosk),
                                          jsonb_build_object('scannedAt', iso(item."timestamp"), 'offline', true), p_alert_window);
            IF alert IS NOT NULL THEN alerts := alerts || jsonb_build_array(alert); END IF;
            results := results || jsonb_build_object(item."index"::text, res || '{"success": false, "error": "Badge not found or not assigned"}'::jsonb);
            CONTINUE;
        END IF;
        IF b.status <> 'active' THEN
            alert := raise_security_alert('badge_disabled', 'critical', serial,
                                          CASE WHEN b.assignment_type = 'member' THEN b.assigned_to_id END, p_kiosk,
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
            results := results || jsonb_build_object(item."index"::text, res || jsonb_build_object(
                'success', true, 'duplicate', true, 'checkinId', c.id, 'memberId', m.id,
                'memberName', m.first_name || ' ' || m.last_name, 'direction', c.direction, 'flagged', c.flagged_for_review));
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
-- Badge assignment (domain §5.1): both sides of the member link, visitor and attendee links, in one call.

-- Clears every reference to the badge held by its current holder (and any member pointing at it).
CREATE FUNCTION badge_unlink(b badges) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE members SET badge_id = NULL WHERE badge_id = b.id;
    IF b.assignment_type = 'visitor' THEN
        UPDATE visitors SET temporary_badge_id = NULL WHERE id = b.assigned_to_id AND temporary_badge_id = b.id;
    END IF;
    UPDATE event_attendees SET badge_id = NULL, badge_assigned_at = NULL WHERE badge_id = b.id;
    UPDATE badges SET assignment_type = 'unassigned', assigned_to_id = NULL
    WHERE id = b.id AND assignment_type <> 'unassigned';
END $$;

-- Assigns an active, unassigned badge (caller has checked). Outcomes: OK, HOLDER_NOT_FOUND, MEMBER_HAS_BADGE.
CREATE FUNCTION badge_link(p_badge uuid, p_type text, p_holder uuid) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    holder_badge uuid;
BEGIN
    IF p_type = 'member' THEN
        SELECT badge_id INTO holder_badge FROM members WHERE id = p_holder FOR NO KEY UPDATE;
        IF NOT FOUND THEN RETURN 'HOLDER_NOT_FOUND'; END IF;
        IF holder_badge IS NOT NULL AND holder_badge <> p_badge THEN RETURN 'MEMBER_HAS_BADGE'; END IF;
    ELSIF p_type = 'visitor' THEN
        PERFORM 1 FROM visitors WHERE id = p_holder FOR NO KEY UPDATE;
        IF NOT FOUND THEN RETURN 'HOLDER_NOT_FOUND'; END IF;
    ELSE
        PERFORM 1 FROM event_attendees WHERE id = p_holder FOR NO KEY UPDATE;
        IF NOT FOUND THEN RETURN 'HOLDER_NOT_FOUND'; END IF;
    END IF;
    UPDATE badges SET assignment_type = p_type, assigned_to_id = p_holder WHERE id = p_badge;
    IF p_type = 'member' THEN
        UPDATE members SET badge_id = p_badge WHERE id = p_holder AND badge_id IS DISTINCT FROM p_badge;
    ELSIF p_type = 'visitor' THEN
        UPDATE visitors SET temporary_badge_id = p_badge WHERE id = p_holder;
    ELSE
        UPDATE event_attendees SET badge_id = p_badge, badge_assigned_at = now() WHERE id = p_holder;
    END IF;
    RETURN 'OK';
END $$;

-- Whether a holder of that type exists.
CREATE FUNCTION badge_holder_exists(p_type text, p_holder uuid) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT CASE p_type
        WHEN 'member' THEN EXISTS (SELECT 1 FROM members WHERE id = p_holder)
        WHEN 'visitor' THEN EXISTS (SELECT 1 FROM visitors WHERE id = p_holder)
        WHEN 'event' THEN EXISTS (SELECT 1 FROM event_attendees WHERE id = p_holder)
        ELSE false END
$$;

-- POST /api/badges (p_id NULL) and PATCH /api/badges/:id. `f` holds only the fields the client sent.
-- Outcomes: OK, NOT_FOUND, DUPLICATE_SERIAL, BADGE_STATUS_NOT_FOUND, STATUS_MISMATCH, HOLDER_NOT_FOUND,
-- BADGE_NOT_ACTIVE, BADGE_ALREADY_ASSIGNED, MEMBER_HAS_BADGE, ASSIGNMENT_TYPE_REQUIRED.
CREATE FUNCTION badge_save(p_id uuid, f jsonb, p_user uuid, p_api_key text, p_ip text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    b badges%ROWTYPE;
    before jsonb;
    serial text;
    new_status text;
    lookup_status text;
    want_type text;
    want_holder uuid;
    outcome text;
    assignment_changed boolean := false;
BEGIN
    IF p_id IS NOT NULL THEN
        SELECT * INTO b FROM badges WHERE id = p_id FOR UPDATE;
        IF NOT FOUND THEN RETURN jsonb_build_object('outcome', 'NOT_FOUND'); END IF;
        before := badge_json(b);
    ELSE
        b.status := 'active';
        b.assignment_type := 'unassigned';
    END IF;
    IF f ? 'serialNumber' THEN
        serial := upper(btrim(f->>'serialNumber', E' \t\r\n\f\v'));
        IF EXISTS (SELECT 1 FROM badges WHERE serial_number = serial AND id IS DISTINCT FROM p_id) THEN
            RETURN jsonb_build_object('outcome', 'DUPLICATE_SERIAL', 'serialNumber', serial);
        END IF;
    ELSE
        serial := b.serial_number;
    END IF;
    new_status := coalesce(f->>'status', b.status);
    IF f->>'badgeStatusId' IS NOT NULL THEN
        SELECT code INTO lookup_status FROM badge_statuses WHERE id = (f->>'badgeStatusId')::uuid;
        IF NOT FOUND THEN RETURN jsonb_build_object('outcome', 'BADGE_STATUS_NOT_FOUND', 'badgeStatusId', f->>'badgeStatusId'); END IF;
        IF f ? 'status' AND f->>'status' <> lookup_status THEN RETURN jsonb_build_object('outcome', 'STATUS_MISMATCH'); END IF;
        new_status := lookup_status;
    END IF;

    -- The assignment the client wants.
    want_type := b.assignment_type;
    want_holder := b.assigned_to_id;
    IF f ? 'assignmentType' THEN
        want_type := f->>'assignmentType';
        want_holder := CASE WHEN want_type = 'unassigned' THEN NULL
                            WHEN f ? 'assignedToId' THEN (f->>'assignedToId')::uuid
                            WHEN want_type = b.assignment_type THEN b.assigned_to_id END;
        IF want_type <> 'unassigned' AND want_holder IS NULL THEN
            RETURN jsonb_build_object('outcome', 'ASSIGNMENT_TYPE_REQUIRED');
        END IF;
    ELSIF f ? 'assignedToId' THEN
        want_holder := (f->>'assignedToId')::uuid;
        IF want_holder IS NULL THEN
            want_type := 'unassigned';
        ELSIF b.assignment_type = 'unassigned' THEN
            RETURN jsonb_build_object('outcome', 'ASSIGNMENT_TYPE_REQUIRED');
        END IF;
    END IF;
    -- A returned badge has no holder (domain §5.1 invariant 4).
    IF new_status = 'inactive' AND b.status <> 'inactive' AND NOT (f ? 'assignmentType' OR f ? 'assignedToId') THEN
        want_type := 'unassigned';
        want_holder := NULL;
    END IF;
    IF want_type <> 'unassigned' AND (want_type, want_holder) IS DISTINCT FROM (b.assignment_type, b.assigned_to_id) THEN
        IF NOT badge_holder_exists(want_type, want_holder) THEN
            RETURN jsonb_build_object('outcome', 'HOLDER_NOT_FOUND', 'holderId', want_holder);
        END IF;
        IF new_status <> 'active' THEN
            RETURN jsonb_build_object('outcome', 'BADGE_NOT_ACTIVE', 'status', new_status);
        END IF;
        IF b.assignment_type <> 'unassigned' THEN
            RETURN jsonb_build_object('outcome', 'BADGE_ALREADY_ASSIGNED');
        END IF;
    END IF;
    IF want_type <> 'unassigned' AND new_status = 'inactive' THEN
        RETURN jsonb_build_object('outcome', 'BADGE_NOT_ACTIVE', 'status', new_status);
    END IF;

    IF p_id IS NULL THEN
        INSERT INTO badges (serial_number, status) VALUES (serial, new_status) RETURNING * INTO b;
    ELSE
        IF want_type = 'unassigned' AND b.assignment_type <> 'unassigned' THEN
            PERFORM badge_unlink(b);
            assignment_changed := true;
        END IF;
        UPDATE badges SET serial_number = serial, status = new_status WHERE id = b.id RETURNING * INTO b;
    END IF;
    IF want_type <> 'unassigned' AND (want_type, want_holder) IS DISTINCT FROM (b.assignment_type, b.assigned_to_id) THEN
        outcome := badge_link(b.id, want_type, want_holder);
        IF outcome <> 'OK' THEN
            RAISE EXCEPTION USING ERRCODE = 'SN003', MESSAGE = outcome;  -- undo the insert/update (never expected: checked above)
        END IF;
        assignment_changed := true;
    END IF;
    SELECT * INTO b FROM badges WHERE id = b.id;
    PERFORM write_audit(p_user, p_api_key, p_ip, CASE WHEN p_id IS NULL THEN 'badge_create' ELSE 'badge_update' END, 'badge', b.id,
                        jsonb_build_object('before', before, 'after', badge_json(b)));
    RETURN jsonb_build_object('outcome', 'OK', 'badge', badge_json(b), 'assignmentChanged', assignment_changed);
END $$;

-- POST /api/badges/:id/assign. Outcomes: OK, NOT_FOUND, HOLDER_NOT_FOUND, BADGE_NOT_ACTIVE,
-- BADGE_ALREADY_ASSIGNED, MEMBER_HAS_BADGE. Re-assigning the same holder is OK with changed = false.
CREATE FUNCTION badge_assign(p_badge uuid, p_type text, p_holder uuid, p_user uuid, p_api_key text, p_ip text) RETURNS jsonb
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
        RETURN jsonb_build_object('outcome', 'OK', 'changed', false, 'badge', badge_json(b));
    END IF;
    IF b.status <> 'active' THEN RETURN jsonb_build_object('outcome', 'BADGE_NOT_ACTIVE', 'status', b.status); END IF;
    IF b.assignment_type <> 'unassigned' THEN RETURN jsonb_build_object('outcome', 'BADGE_ALREADY_ASSIGNED'); END IF;
    outcome := badge_link(b.id, p_type, p_holder);
    IF outcome <> 'OK' THEN RETURN jsonb_build_object('outcome', outcome); END IF;
    SELECT * INTO b FROM badges WHERE id = p_badge;
    PERFORM write_audit(p_user, p_api_key, p_ip, 'badge_assign', 'badge', b.id,
                        jsonb_build_object('assignmentType', p_type, 'assignedToId', p_holder));
    RETURN jsonb_build_object('outcome', 'OK', 'changed', true, 'badge', badge_json(b));
END $$;

-- POST /api/badges/:id/unassign (idempotent). Outcomes: OK, NOT_FOUND.
CREATE FUNCTION badge_unassign(p_badge uuid, p_user uuid, p_api_key text, p_ip text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    b badges%ROWTYPE;
    was jsonb;
BEGIN
    SELECT * INTO b FROM badges WHERE id = p_badge FOR UPDATE;
    IF NOT FOUND THEN RETURN jsonb_build_object('outcome', 'NOT_FOUND'); END IF;
    was := jsonb_build_object('assignmentType', b.assignment_type, 'assignedToId', b.assigned_to_id);
    PERFORM badge_unlink(b);
    SELECT * INTO b FROM badges WHERE id = p_badge;
    PERFORM write_audit(p_user, p_api_key, p_ip, 'badge_unassign', 'badge', b.id, jsonb_build_object('before', was));
    RETURN jsonb_build_object('outcome', 'OK', 'changed', was->>'assignmentType' <> 'unassigned', 'badge', badge_json(b));
END $$;

-- ---------------------------------------------------------------------------------------------------------
-- Members: POST /api/members (p_id NULL) and PATCH /api/members/:id. `f` holds only the fields the client
-- sent (validated by the API). Outcomes: OK, NOT_FOUND, INVALID_RANK, DIVISION_NOT_FOUND, MEMBER_TYPE_NOT_FOUND,
-- MEMBER_STATUS_NOT_FOUND, STATUS_MISMATCH, BADGE_NOT_FOUND, BADGE_NOT_ASSIGNABLE, DUPLICATE_SERVICE_NUMBER.
-- A badge change unassigns the previous badge and links the new one (domain §5.1), all in this call.

CREATE FUNCTION member_save(p_id uuid, f jsonb, p_user uuid, p_api_key text, p_ip text) RETURNS jsonb
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
        'badges', (SELECT coalesce(jsonb_agg(badge_json(x)), '[]'::jsonb) FROM badges x
                   WHERE x.id IN (SELECT (value #>> '{}')::uuid FROM jsonb_array_elements(badge_changes))));
END $$;
