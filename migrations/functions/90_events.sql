-- Events: their lifecycle writes, attendees with event badges, and event-badge scans at the kiosk.
-- Replaceable objects: applied after the versioned migrations whenever this file changes (docs/database.md).
-- Lock order, everywhere: the event, then its attendee, then the badge. Close and delete lock the event
-- FOR UPDATE; attendee writes and scans lock it FOR SHARE, so a scan either commits before a close or sees
-- the event completed.

-- Returns every event badge held by the event's attendees to the pool; attendees keep `badge_id` as history.
-- The released Badge objects, as a jsonb array.
CREATE OR REPLACE FUNCTION event_release_badges(p_event uuid) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    released jsonb;
BEGIN
    WITH freed AS (
        UPDATE badges b SET assignment_type = 'unassigned', assigned_to_id = NULL
        FROM event_attendees a
        WHERE a.event_id = p_event AND b.assignment_type = 'event' AND b.assigned_to_id = a.id
        RETURNING b.*
    )
    SELECT coalesce(jsonb_agg(badge_json(freed::badges) ORDER BY freed.serial_number), '[]'::jsonb) INTO released FROM freed;
    RETURN released;
END $$;

-- Takes the attendee's event badge back to the pool and clears the attendee's link. A badge the attendee
-- no longer holds (history, or a member badge) is not touched. The released Badge object, or NULL.
CREATE OR REPLACE FUNCTION attendee_release_badge(a event_attendees) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    b badges%ROWTYPE;
BEGIN
    IF a.badge_id IS NULL THEN
        RETURN NULL;
    END IF;
    UPDATE event_attendees SET badge_id = NULL, badge_assigned_at = NULL WHERE id = a.id;
    UPDATE badges SET assignment_type = 'unassigned', assigned_to_id = NULL
    WHERE id = a.badge_id AND assignment_type = 'event' AND assigned_to_id = a.id
    RETURNING * INTO b;
    RETURN CASE WHEN b.id IS NULL THEN NULL ELSE badge_json(b) END;
END $$;

-- POST /api/events (p_id NULL) and PATCH /api/events/:id. `f` holds only the fields the client sent
-- (dates as YYYY-MM-DD). The lifecycle is the trigger events_check_transition (SN004 invalid_transition).
-- Outcomes: OK, NOT_FOUND, DUPLICATE_CODE, INVALID_DATES.
CREATE OR REPLACE FUNCTION event_save(p_id uuid, f jsonb, p_user uuid, p_api_key text, p_ip text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    e events%ROWTYPE;
    before jsonb;
    new_start date;
    new_end date;
BEGIN
    IF p_id IS NOT NULL THEN
        SELECT * INTO e FROM events WHERE id = p_id FOR UPDATE;
        IF NOT FOUND THEN RETURN jsonb_build_object('outcome', 'NOT_FOUND'); END IF;
        before := event_json(e);
    END IF;
    IF f ? 'code' AND EXISTS (SELECT 1 FROM events WHERE code = f->>'code' AND id IS DISTINCT FROM p_id) THEN
        RETURN jsonb_build_object('outcome', 'DUPLICATE_CODE', 'code', f->>'code');
    END IF;
    new_start := CASE WHEN f ? 'startDate' THEN (f->>'startDate')::date ELSE e.start_date END;
    new_end := CASE WHEN f ? 'endDate' THEN (f->>'endDate')::date ELSE e.end_date END;
    IF new_end < new_start THEN
        RETURN jsonb_build_object('outcome', 'INVALID_DATES', 'startDate', iso_date(new_start), 'endDate', iso_date(new_end));
    END IF;
    IF p_id IS NULL THEN
        INSERT INTO events (name, code, description, start_date, end_date, status, auto_expire_badges, custom_roles, created_by)
        VALUES (f->>'name', f->>'code', f->>'description', new_start, new_end, coalesce(f->>'status', 'draft'),
                coalesce((f->>'autoExpireBadges')::boolean, true), nullif(f->'customRoles', 'null'::jsonb), p_user)
        RETURNING * INTO e;
    ELSE
        UPDATE events SET
            name = CASE WHEN f ? 'name' THEN f->>'name' ELSE name END,
            code = CASE WHEN f ? 'code' THEN f->>'code' ELSE code END,
            description = CASE WHEN f ? 'description' THEN f->>'description' ELSE description END,
            start_date = new_start,
            end_date = new_end,
            status = CASE WHEN f ? 'status' THEN f->>'status' ELSE status END,
            auto_expire_badges = CASE WHEN f ? 'autoExpireBadges' THEN (f->>'autoExpireBadges')::boolean ELSE auto_expire_badges END,
            custom_roles = CASE WHEN f ? 'customRoles' THEN nullif(f->'customRoles', 'null'::jsonb) ELSE custom_roles END
        WHERE id = p_id
        RETURNING * INTO e;
    END IF;
    PERFORM write_audit(p_user, p_api_key, p_ip, CASE WHEN p_id IS NULL THEN 'event_create' ELSE 'event_update' END, 'event', e.id,
                        jsonb_build_object('before', before, 'after', event_json(e)));
    RETURN jsonb_build_object('outcome', 'OK', 'event', event_json(e));
END $$;

-- POST /api/events/:id/close: active -> completed (closing a completed event again changes nothing). With
-- autoExpireBadges, attendees not yet expired expire with accessEnd = today (the operational day) and the
-- event's badges return to the pool. Outcomes: OK, NOT_FOUND, EVENT_CANCELLED (a draft is refused by the
-- lifecycle trigger).
CREATE OR REPLACE FUNCTION event_close(p_id uuid, p_zone text, p_rollover interval, p_user uuid, p_api_key text, p_ip text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    e events%ROWTYPE;
    expired_count integer := 0;
    released jsonb := '[]'::jsonb;
    already_closed boolean;
BEGIN
    SELECT * INTO e FROM events WHERE id = p_id FOR UPDATE;
    IF NOT FOUND THEN RETURN jsonb_build_object('outcome', 'NOT_FOUND'); END IF;
    IF e.status = 'cancelled' THEN RETURN jsonb_build_object('outcome', 'EVENT_CANCELLED'); END IF;
    already_closed := e.status = 'completed';
    IF NOT already_closed THEN
        UPDATE events SET status = 'completed' WHERE id = p_id RETURNING * INTO e;
        IF e.auto_expire_badges THEN
            WITH expired AS (
                UPDATE event_attendees SET status = 'expired', access_end = operational_date(now(), p_zone, p_rollover)
                WHERE event_id = p_id AND status <> 'expired' RETURNING 1
            )
            SELECT count(*) INTO expired_count FROM expired;
            released := event_release_badges(p_id);
        END IF;
    END IF;
    PERFORM write_audit(p_user, p_api_key, p_ip, 'event_close', 'event', e.id,
                        jsonb_build_object('alreadyClosed', already_closed, 'expiredCount', expired_count,
                                           'releasedBadges', jsonb_array_length(released)));
    RETURN jsonb_build_object('outcome', 'OK', 'event', event_json(e), 'expiredCount', expired_count,
                              'changed', NOT already_closed, 'badges', released);
END $$;

-- DELETE /api/events/:id: the event's badges return to the pool; attendees and their event check-ins
-- cascade, visits keep their history with eventId NULL. Outcomes: OK, NOT_FOUND.
CREATE OR REPLACE FUNCTION event_delete(p_id uuid, p_user uuid, p_api_key text, p_ip text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    e events%ROWTYPE;
    released jsonb;
BEGIN
    SELECT * INTO e FROM events WHERE id = p_id FOR UPDATE;
    IF NOT FOUND THEN RETURN jsonb_build_object('outcome', 'NOT_FOUND'); END IF;
    released := event_release_badges(p_id);
    DELETE FROM events WHERE id = p_id;
    PERFORM write_audit(p_user, p_api_key, p_ip, 'event_delete', 'event', e.id,
                        jsonb_build_object('before', event_json(e), 'releasedBadges', jsonb_array_length(released)));
    RETURN jsonb_build_object('outcome', 'OK', 'event', event_json(e), 'badges', released);
END $$;

-- POST /api/events/:id/attendees (p_id NULL), PATCH …/attendees/:attendeeId and
-- POST …/attendees/:attendeeId/assign-badge. `f` holds only the fields the client sent. A new `badgeId` is
-- taken through badge_assign (the badges' own rules, outcomes and audit row) and the badge the attendee held
-- before returns to the pool; null takes the badge back. Completed and cancelled events take no new
-- attendees and hand out no badges.
-- Outcomes: OK, EVENT_NOT_FOUND, NOT_FOUND, EVENT_CLOSED, INVALID_ACCESS_WINDOW,
-- BADGE_REFUSED (`refusal`: badge_assign's outcome).
CREATE OR REPLACE FUNCTION attendee_save(p_event uuid, p_id uuid, f jsonb, p_user uuid, p_api_key text, p_ip text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    e events%ROWTYPE;
    a event_attendees%ROWTYPE;
    before jsonb;
    new_badge uuid := (f->>'badgeId')::uuid;
    takes_badge boolean;
    assigned jsonb;
    released jsonb;
    badges_changed jsonb := '[]'::jsonb;
BEGIN
    SELECT * INTO e FROM events WHERE id = p_event FOR SHARE;
    IF NOT FOUND THEN RETURN jsonb_build_object('outcome', 'EVENT_NOT_FOUND', 'eventId', p_event); END IF;
    IF p_id IS NOT NULL THEN
        SELECT * INTO a FROM event_attendees WHERE id = p_id AND event_id = p_event FOR UPDATE;
        IF NOT FOUND THEN RETURN jsonb_build_object('outcome', 'NOT_FOUND', 'attendeeId', p_id); END IF;
        before := attendee_json(a);
    END IF;
    takes_badge := new_badge IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM badges WHERE id = new_badge AND assignment_type = 'event' AND assigned_to_id = a.id);
    IF e.status IN ('completed', 'cancelled') AND (p_id IS NULL OR takes_badge) THEN
        RETURN jsonb_build_object('outcome', 'EVENT_CLOSED', 'status', e.status);
    END IF;
    IF (CASE WHEN f ? 'accessEnd' THEN (f->>'accessEnd')::date ELSE a.access_end END)
       < (CASE WHEN f ? 'accessStart' THEN (f->>'accessStart')::date ELSE a.access_start END) THEN
        RETURN jsonb_build_object('outcome', 'INVALID_ACCESS_WINDOW');
    END IF;

    IF p_id IS NULL THEN
        INSERT INTO event_attendees (event_id, name, rank, organization, role, access_start, access_end, status)
        VALUES (p_event, f->>'name', f->>'rank', f->>'organization', f->>'role',
                (f->>'accessStart')::date, (f->>'accessEnd')::date, coalesce(f->>'status', 'pending'))
        RETURNING * INTO a;
    END IF;
    IF takes_badge THEN
        assigned := badge_assign(new_badge, 'event', a.id, p_user, p_api_key, p_ip);
        IF assigned->>'outcome' <> 'OK' THEN
            IF p_id IS NULL THEN
                DELETE FROM event_attendees WHERE id = a.id;  -- nothing else refers to it yet
            END IF;
            RETURN jsonb_build_object('outcome', 'BADGE_REFUSED', 'refusal', assigned);
        END IF;
        badges_changed := jsonb_build_array(assigned->'badge');
        IF f ? 'badgeAssignedAt' THEN
            UPDATE event_attendees SET badge_assigned_at = (f->>'badgeAssignedAt')::timestamptz WHERE id = a.id;
        END IF;
    END IF;
    IF p_id IS NOT NULL THEN
        -- The badge held before returns to the pool (badge_assign has already pointed the attendee at the new one).
        IF f ? 'badgeId' AND a.badge_id IS DISTINCT FROM new_badge THEN
            IF new_badge IS NULL THEN
                released := attendee_release_badge(a);
            ELSE
                UPDATE badges SET assignment_type = 'unassigned', assigned_to_id = NULL
                WHERE id = a.badge_id AND assignment_type = 'event' AND assigned_to_id = a.id
                RETURNING badge_json(badges) INTO released;
            END IF;
            IF released IS NOT NULL THEN badges_changed := badges_changed || released; END IF;
        END IF;
        UPDATE event_attendees SET
            name = CASE WHEN f ? 'name' THEN f->>'name' ELSE name END,
            rank = CASE WHEN f ? 'rank' THEN f->>'rank' ELSE rank END,
            organization = CASE WHEN f ? 'organization' THEN f->>'organization' ELSE organization END,
            role = CASE WHEN f ? 'role' THEN f->>'role' ELSE role END,
            access_start = CASE WHEN f ? 'accessStart' THEN (f->>'accessStart')::date ELSE access_start END,
            access_end = CASE WHEN f ? 'accessEnd' THEN (f->>'accessEnd')::date ELSE access_end END,
            status = CASE WHEN f ? 'status' THEN f->>'status' ELSE status END
        WHERE id = p_id;
    END IF;
    SELECT * INTO a FROM event_attendees WHERE id = a.id;
    PERFORM write_audit(p_user, p_api_key, p_ip, CASE WHEN p_id IS NULL THEN 'attendee_create' ELSE 'attendee_update' END,
                        'event_attendee', a.id, jsonb_build_object('eventId', p_event, 'before', before, 'after', attendee_json(a)));
    RETURN jsonb_build_object('outcome', 'OK', 'attendee', attendee_json(a), 'badges', badges_changed);
END $$;

-- DELETE /api/events/:id/attendees/:attendeeId/badge (p_delete false: the attendee's event badge returns to
-- the pool, idempotent) and DELETE …/attendees/:attendeeId (p_delete true: the attendee goes too, with their
-- event check-ins). Outcomes: OK, EVENT_NOT_FOUND, NOT_FOUND.
CREATE OR REPLACE FUNCTION attendee_remove(p_event uuid, p_id uuid, p_delete boolean, p_user uuid, p_api_key text, p_ip text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    a event_attendees%ROWTYPE;
    released jsonb;
BEGIN
    PERFORM 1 FROM events WHERE id = p_event FOR SHARE;
    IF NOT FOUND THEN RETURN jsonb_build_object('outcome', 'EVENT_NOT_FOUND', 'eventId', p_event); END IF;
    SELECT * INTO a FROM event_attendees WHERE id = p_id AND event_id = p_event FOR UPDATE;
    IF NOT FOUND THEN RETURN jsonb_build_object('outcome', 'NOT_FOUND', 'attendeeId', p_id); END IF;
    released := attendee_release_badge(a);
    IF p_delete THEN
        DELETE FROM event_attendees WHERE id = p_id;
    END IF;
    PERFORM write_audit(p_user, p_api_key, p_ip, CASE WHEN p_delete THEN 'attendee_delete' ELSE 'attendee_badge_remove' END,
                        'event_attendee', a.id,
                        jsonb_build_object('eventId', p_event, 'before', attendee_json(a), 'releasedBadge', released->'serialNumber'));
    SELECT * INTO a FROM event_attendees WHERE id = p_id;
    RETURN jsonb_build_object('outcome', 'OK', 'attendee', CASE WHEN p_delete THEN NULL ELSE attendee_json(a) END,
                              'badges', CASE WHEN released IS NULL THEN '[]'::jsonb ELSE jsonb_build_array(released) END);
END $$;

-- POST /api/events/scan: an attendee's event badge at a kiosk. The direction is the opposite of the attendee's
-- latest event check-in (in when none); a scan within p_duplicate_window of it stores nothing. The first `in`
-- moves a pending or approved attendee to checked_in. Unknown and disabled badges raise the same security
-- alerts as member scans. Outcomes: OK, BADGE_NOT_FOUND, BADGE_INACTIVE, BADGE_UNASSIGNED,
-- BADGE_TYPE_NOT_SUPPORTED, ATTENDEE_NOT_FOUND, EVENT_NOT_ACTIVE, EVENT_NOT_IN_PROGRESS, ATTENDEE_EXPIRED,
-- ATTENDEE_DENIED, ACCESS_NOT_STARTED, DUPLICATE_SCAN.
CREATE OR REPLACE FUNCTION event_scan(p_serial text, p_kiosk text, p_ts timestamptz, p_zone text, p_rollover interval,
                                      p_user uuid, p_api_key text, p_ip text,
                                      p_alert_window interval DEFAULT interval '5 minutes',
                                      p_duplicate_window interval DEFAULT interval '2 seconds') RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    serial text := upper(btrim(p_serial, E' \t\r\n\f\v'));
    scan_day date := operational_date(p_ts, p_zone, p_rollover);
    b badges%ROWTYPE;
    e events%ROWTYPE;
    a event_attendees%ROWTYPE;
    latest event_checkins%ROWTYPE;
    c event_checkins%ROWTYPE;
    held_for uuid;
    dir text;
    refusal jsonb;
BEGIN
    SELECT * INTO b FROM badges WHERE serial_number = serial;
    refusal := badge_scan_refusal(serial, b, p_kiosk, p_ts, p_alert_window, '{"scan": "event"}');
    IF refusal IS NOT NULL THEN
        RETURN refusal;
    END IF;
    IF b.assignment_type = 'event' THEN
        -- Serialise with close and attendee writes (event, then attendee), then re-read the badge: a close
        -- that committed meanwhile has returned it to the pool.
        SELECT ea.event_id INTO held_for FROM event_attendees ea WHERE ea.id = b.assigned_to_id;
        PERFORM 1 FROM events WHERE id = held_for FOR SHARE;
        SELECT * INTO a FROM event_attendees WHERE id = b.assigned_to_id FOR NO KEY UPDATE;
        SELECT * INTO b FROM badges WHERE id = b.id;
        IF b.assignment_type = 'event' AND b.assigned_to_id IS DISTINCT FROM a.id THEN
            RAISE EXCEPTION '[SN002 badge_linkage] badge % changed holder during the scan', serial
                USING ERRCODE = 'SN002', CONSTRAINT = 'badge_linkage', TABLE = 'badges';
        END IF;
    END IF;
    IF b.assignment_type = 'unassigned' THEN
        RETURN jsonb_build_object('outcome', 'BADGE_UNASSIGNED', 'serialNumber', serial);
    END IF;
    IF b.assignment_type <> 'event' THEN
        RETURN jsonb_build_object('outcome', 'BADGE_TYPE_NOT_SUPPORTED', 'serialNumber', serial, 'assignmentType', b.assignment_type);
    END IF;
    IF a.id IS NULL THEN
        RETURN jsonb_build_object('outcome', 'ATTENDEE_NOT_FOUND', 'attendeeId', b.assigned_to_id);
    END IF;
    SELECT * INTO e FROM events WHERE id = a.event_id;
    IF e.status <> 'active' THEN
        RETURN jsonb_build_object('outcome', 'EVENT_NOT_ACTIVE', 'eventName', e.name, 'status', e.status);
    END IF;
    IF scan_day < e.start_date OR scan_day > e.end_date THEN
        RETURN jsonb_build_object('outcome', 'EVENT_NOT_IN_PROGRESS', 'eventName', e.name,
                                  'startDate', iso_date(e.start_date), 'endDate', iso_date(e.end_date), 'day', iso_date(scan_day));
    END IF;
    IF a.status = 'expired' OR scan_day > a.access_end THEN
        RETURN jsonb_build_object('outcome', 'ATTENDEE_EXPIRED', 'attendeeName', a.name);
    END IF;
    IF a.status = 'denied' THEN
        RETURN jsonb_build_object('outcome', 'ATTENDEE_DENIED', 'attendeeName', a.name);
    END IF;
    IF scan_day < a.access_start THEN
        RETURN jsonb_build_object('outcome', 'ACCESS_NOT_STARTED', 'attendeeName', a.name, 'accessStart', iso_date(a.access_start));
    END IF;
    SELECT * INTO latest FROM event_checkins WHERE event_attendee_id = a.id ORDER BY "timestamp" DESC, created_at DESC LIMIT 1;
    IF FOUND AND abs(extract(epoch FROM p_ts - latest."timestamp")) <= extract(epoch FROM p_duplicate_window) THEN
        RETURN jsonb_build_object('outcome', 'DUPLICATE_SCAN', 'lastCheckinId', latest.id,
                                  'lastTimestamp', iso(latest."timestamp"), 'lastDirection', latest.direction);
    END IF;
    dir := CASE WHEN latest.direction = 'in' THEN 'out' ELSE 'in' END;
    INSERT INTO event_checkins (event_attendee_id, badge_id, direction, "timestamp", kiosk_id)
    VALUES (a.id, b.id, dir, p_ts, p_kiosk)
    RETURNING * INTO c;
    UPDATE badges SET last_used = greatest(coalesce(last_used, p_ts), p_ts) WHERE id = b.id;
    IF dir = 'in' AND a.status IN ('pending', 'approved') THEN
        UPDATE event_attendees SET status = 'checked_in' WHERE id = a.id RETURNING * INTO a;
    END IF;
    PERFORM write_audit(p_user, p_api_key, p_ip, 'event_checkin_create', 'event_checkin', c.id,
                        jsonb_build_object('eventId', e.id, 'attendeeId', a.id, 'badgeSerial', serial,
                                           'direction', dir, 'kioskId', p_kiosk, 'timestamp', iso(p_ts)));
    PERFORM emit_event('events', 'event:update', jsonb_build_object(
        'id', e.id, 'action', 'checkin', 'name', e.name, 'status', e.status, 'attendeeId', a.id, 'attendeeName', a.name,
        'direction', dir, 'kioskId', p_kiosk, 'timestamp', iso(p_ts)));
    RETURN jsonb_build_object('outcome', 'OK', 'checkin', event_checkin_json(c), 'attendee', attendee_json(a),
                              'event', event_json(e), 'direction', dir);
END $$;
