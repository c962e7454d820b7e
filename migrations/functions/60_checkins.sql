-- The kiosk flow: badge scans, manual and bulk check-ins, offline sync, the Lockup hold.
-- Replaceable objects: applied after the versioned migrations whenever this file changes (docs/database.md).

-- Whether the member holds the system Lockup tag.
CREATE OR REPLACE FUNCTION holds_lockup(p_member uuid) RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN EXISTS (SELECT 1 FROM member_tags mt JOIN tags t ON t.id = mt.tag_id
                   WHERE mt.member_id = p_member AND t.name = 'Lockup' AND t.is_system);
END $$;

-- The details of a LOCKUP_HELD refusal: who could take the tag over (present active members other than the holder).
CREATE OR REPLACE FUNCTION lockup_held_details(p_member uuid) RETURNS jsonb
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

-- The first two checks of every badge scan (member or event scan): an unknown serial (BADGE_NOT_FOUND and a
-- badge_unknown warning) and a badge that is not active (BADGE_INACTIVE and a critical badge_disabled alert
-- naming its last holder). `b` is the badge read for `p_serial` (all NULL when none); `p_scan` is merged into
-- the alert's details. NULL when the scan may go on.
CREATE OR REPLACE FUNCTION badge_scan_refusal(p_serial text, b badges, p_kiosk text, p_ts timestamptz, p_window interval,
                                              p_scan jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    alert jsonb;
BEGIN
    IF b.id IS NULL THEN
        alert := raise_security_alert('badge_unknown', 'warning', p_serial, NULL, p_kiosk,
                                      format('Unknown badge %s scanned at %s', p_serial, p_kiosk),
                                      jsonb_build_object('scannedAt', iso(p_ts)) || p_scan, p_window);
        RETURN jsonb_build_object('outcome', 'BADGE_NOT_FOUND', 'serialNumber', p_serial, 'alert', alert);
    END IF;
    IF b.status <> 'active' THEN
        alert := raise_security_alert('badge_disabled', 'critical', p_serial, badge_alert_member(b), p_kiosk,
                                      format('Badge %s is %s and was scanned at %s', p_serial, b.status, p_kiosk),
                                      jsonb_build_object('badgeId', b.id, 'badgeStatus', b.status,
                                                         'assignmentType', b.assignment_type, 'scannedAt', iso(p_ts)) || p_scan,
                                      p_window);
        RETURN jsonb_build_object('outcome', 'BADGE_INACTIVE', 'serialNumber', p_serial, 'status', b.status, 'alert', alert);
    END IF;
    RETURN NULL;
END $$;

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
    mustered jsonb;
    refusal jsonb;
BEGIN
    SELECT * INTO b FROM badges WHERE serial_number = serial;
    refusal := badge_scan_refusal(serial, b, p_kiosk, p_ts, p_alert_window, '{}');
    IF refusal IS NOT NULL THEN
        RETURN refusal;
    END IF;
    IF b.assignment_type = 'unassigned' THEN
        RETURN jsonb_build_object('outcome', 'BADGE_UNASSIGNED', 'serialNumber', serial);
    END IF;
    IF b.assignment_type <> 'member' THEN
        -- A visitor's temporary badge checks nobody in, but during a muster it accounts for the visitor.
        IF b.assignment_type = 'visitor' THEN
            mustered := muster_scan(b.assigned_to_id);
        END IF;
        RETURN jsonb_build_object('outcome', 'BADGE_TYPE_NOT_SUPPORTED', 'serialNumber', serial, 'assignmentType', b.assignment_type,
                                  'muster', mustered);
    END IF;

    -- Serialise per member before deciding anything.
    SELECT * INTO m FROM members WHERE id = b.assigned_to_id FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('outcome', 'MEMBER_NOT_FOUND', 'memberId', b.assigned_to_id);
    END IF;
    -- During a muster the scan accounts for the member, whatever becomes of the check-in.
    mustered := muster_scan(m.id);
    SELECT * INTO latest FROM member_presence WHERE member_id = m.id;
    has_latest := FOUND;
    IF has_latest AND abs(extract(epoch FROM p_ts - latest.since)) <= extract(epoch FROM p_duplicate_window) THEN
        RETURN jsonb_build_object('outcome', 'DUPLICATE_SCAN', 'memberId', m.id,
                                  'lastCheckinId', latest.last_checkin_id, 'lastTimestamp', iso(latest.since),
                                  'lastDirection', latest.direction, 'muster', mustered);
    END IF;
    dir := CASE WHEN has_latest AND latest.direction = 'in' THEN 'out' ELSE 'in' END;
    IF dir = 'out' AND holds_lockup(m.id) THEN
        RETURN jsonb_build_object('outcome', 'LOCKUP_HELD', 'memberId', m.id, 'details', lockup_held_details(m.id), 'muster', mustered);
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
        'muster', mustered);
END $$;

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
    -- Present = status active AND latest check-in `in`.
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

-- POST /api/checkins/bulk: items (already schema-validated and normalised by the API: index, memberId, badgeId,
-- direction, kioskId, method, timestamp, flaggedForReview, flagReason, clientRef) in ascending timestamp order.
CREATE OR REPLACE FUNCTION bulk_checkins(p_items jsonb, p_created_by uuid, p_api_key text, p_ip text) RETURNS jsonb
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
                              'events', events);
END $$;

-- The per-item result of a sync item that is already stored.
CREATE OR REPLACE FUNCTION sync_duplicate_result(c checkins) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'success', true, 'duplicate', true, 'checkinId', c.id, 'memberId', c.member_id,
        'memberName', (SELECT m.first_name || ' ' || m.last_name FROM members m WHERE m.id = c.member_id),
        'direction', c.direction, 'flagged', c.flagged_for_review)
$$;

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
    replaced uuid;
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
            -- A real checkout synced late replaces the forced one of the day rollover that followed it
            -- (docs/database.md, "Scheduled jobs"): nothing in between, so the day ends when it really did.
            replaced := NULL;
            IF dir = 'out' THEN
                DELETE FROM checkins x
                WHERE x.id = (SELECT y.id FROM checkins y WHERE y.member_id = m.id AND y."timestamp" > item."timestamp"
                              ORDER BY y."timestamp", y.created_at, y.id LIMIT 1)
                  AND x.method = 'system' AND x.kiosk_id = 'SYSTEM' AND x.direction = 'out'
                RETURNING x.id INTO replaced;
                IF replaced IS NOT NULL THEN
                    PERFORM write_audit(p_created_by, p_api_key, p_ip, 'checkin_delete', 'checkin', replaced,
                                        jsonb_build_object('reason', 'forced rollover checkout replaced by a late-synced scan',
                                                           'memberId', m.id, 'syncedTimestamp', iso(item."timestamp"),
                                                           'kioskId', p_kiosk));
                END IF;
            END IF;
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
        'events', events, 'alerts', alerts);
END $$;
