-- Realtime events through the outbox (docs/database.md, "Realtime outbox"): every event is written in the
-- transaction of the change it announces; the relay appends the rows to the channel streams after commit.
-- The triggers below announce the changes that are announced whoever makes them (a check-in stored, an
-- alert raised or acknowledged, a badge changing hands, a visitor signing in or out, an event changing,
-- presence figures moving, a session or key revoked); the functions that own other events call emit_event.
-- Replaceable objects: applied after the versioned migrations whenever this file changes (docs/database.md).

-- plpgsql, not sql: its INSERT keeps one plan per connection (a sql function with an INSERT is parsed and
-- planned again at every call, and a scan makes one or two).
CREATE OR REPLACE FUNCTION emit_event(p_channel text, p_event text, p_data jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF p_data IS NOT NULL THEN
        INSERT INTO event_outbox (channel, event, data) VALUES (p_channel, p_event, p_data);
    END IF;
END $$;

-- `checkin:new` for every stored check-in.
CREATE OR REPLACE FUNCTION outbox_checkin_new() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    m members%ROWTYPE;
BEGIN
    SELECT * INTO m FROM members WHERE id = NEW.member_id;
    PERFORM emit_event('checkins', 'checkin:new', checkin_event_json(NEW, m));
    RETURN NULL;
END $$;

-- The `alert:new` / `alert:acknowledged` payload of an alert.
CREATE OR REPLACE FUNCTION alert_event_json(a security_alerts) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', a.id, 'alertType', a.alert_type, 'severity', a.severity, 'badgeSerial', a.badge_serial,
                              'kioskId', a.kiosk_id, 'message', a.message, 'createdAt', iso(a.created_at), 'status', a.status)
        || jsonb_strip_nulls(jsonb_build_object('memberId', a.member_id))
        || CASE WHEN a.status <> 'active'
                THEN jsonb_build_object('acknowledgedAt', iso(a.acknowledged_at), 'acknowledgedBy', a.acknowledged_by)
                ELSE '{}'::jsonb END
$$;

-- `alert:new` when an alert is raised, `alert:acknowledged` when it leaves `active`.
CREATE OR REPLACE FUNCTION outbox_alert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM emit_event('alerts', 'alert:new', alert_event_json(NEW));
    ELSIF OLD.status = 'active' AND NEW.status <> 'active' THEN
        PERFORM emit_event('alerts', 'alert:acknowledged', alert_event_json(NEW));
    END IF;
    RETURN NULL;
END $$;

-- `badge:assignment` when a badge changes hands, with the holder as the transaction left it.
CREATE OR REPLACE FUNCTION outbox_badge_assignment() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    b badges%ROWTYPE;
    j jsonb;
BEGIN
    IF TG_OP = 'INSERT' AND NEW.assignment_type = 'unassigned' THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.assignment_type IS NOT DISTINCT FROM NEW.assignment_type
       AND OLD.assigned_to_id IS NOT DISTINCT FROM NEW.assigned_to_id THEN
        RETURN NULL;
    END IF;
    SELECT * INTO b FROM badges WHERE id = NEW.id;
    IF NOT FOUND THEN RETURN NULL; END IF;
    j := badge_json(b);
    PERFORM emit_event('badges', 'badge:assignment', jsonb_build_object(
        'badgeId', b.id, 'serialNumber', b.serial_number, 'assignmentType', b.assignment_type,
        'assignedToId', b.assigned_to_id, 'assignedToName', j->'assignedTo'->'name', 'timestamp', iso(clock_timestamp())));
    RETURN NULL;
END $$;

-- `visitor:signin` for a new visit, `visitor:signout` the first time it gets a check-out time.
CREATE OR REPLACE FUNCTION outbox_visitor() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    j jsonb := visitor_json(NEW);
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM emit_event('visitors', 'visitor:signin',
            jsonb_build_object('id', NEW.id, 'name', NEW.name, 'organization', coalesce(nullif(NEW.organization, ''), 'N/A'),
                               'visitType', j->'visitType', 'checkInTime', j->'checkInTime')
            || jsonb_strip_nulls(jsonb_build_object('hostName', visitor_host_name(NEW))));
        IF NEW.check_out_time IS NULL THEN
            RETURN NULL;
        END IF;
    ELSIF OLD.check_out_time IS NOT NULL OR NEW.check_out_time IS NULL THEN
        RETURN NULL;
    END IF;
    PERFORM emit_event('visitors', 'visitor:signout', jsonb_build_object('id', NEW.id, 'name', NEW.name, 'checkOutTime', j->'checkOutTime'));
    RETURN NULL;
END $$;

-- `event:update`: created, updated, closed (completed), deleted.
CREATE OR REPLACE FUNCTION outbox_event_update() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    e events%ROWTYPE;
    action text;
BEGIN
    IF TG_OP = 'DELETE' THEN
        e := OLD;
        action := 'deleted';
    ELSE
        e := NEW;
        action := CASE WHEN TG_OP = 'INSERT' THEN 'created'
                       WHEN NEW.status = 'completed' AND OLD.status <> 'completed' THEN 'closed'
                       ELSE 'updated' END;
    END IF;
    PERFORM emit_event('events', 'event:update',
        jsonb_build_object('id', e.id, 'action', action, 'name', e.name, 'status', e.status, 'timestamp', iso(clock_timestamp())));
    RETURN NULL;
END $$;

-- `presence:update` once per transaction that moved the figures (deferred triggers; each UPDATE trigger's WHEN
-- clause says which change moves them: V19). The row carries no figures: the publisher reads
-- presence_figures() once per pass when it appends (docs/database.md, "Realtime outbox"), so a scan never
-- counts the whole unit.
CREATE OR REPLACE FUNCTION outbox_presence() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM event_outbox WHERE txid = pg_current_xact_id() AND channel = 'presence') THEN
        RETURN NULL;
    END IF;
    PERFORM emit_event('presence', 'presence:update', '{}'::jsonb);
    RETURN NULL;
END $$;

-- The relay closes the sockets of a revoked session (`reason` disabled when its user was disabled).
CREATE OR REPLACE FUNCTION outbox_session_revoked() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL THEN
        PERFORM emit_event('sessions', 'session:revoked', jsonb_build_object(
            'sessionId', NEW.id, 'userId', NEW.user_id,
            'reason', CASE WHEN EXISTS (SELECT 1 FROM users u WHERE u.id = NEW.user_id AND u.disabled) THEN 'disabled' ELSE 'revoked' END));
    END IF;
    RETURN NULL;
END $$;

-- A user deleted or given another role: every socket of theirs re-authenticates.
CREATE OR REPLACE FUNCTION outbox_user_revoked() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' OR OLD.role IS DISTINCT FROM NEW.role THEN
        PERFORM emit_event('sessions', 'session:revoked', jsonb_build_object('userId', OLD.id, 'reason', 'revoked'));
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION outbox_api_key_revoked() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL THEN
        PERFORM emit_event('sessions', 'api_key:revoked', jsonb_build_object('apiKeyId', NEW.id));
    END IF;
    RETURN NULL;
END $$;
