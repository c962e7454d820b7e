-- Security alerts raised by the kiosk flow and by staff.
-- Replaceable objects: applied after the versioned migrations whenever this file changes (docs/database.md).

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

CREATE OR REPLACE FUNCTION raise_or_match_security_alert(p_type text, p_severity text, p_serial text, p_member uuid, p_kiosk text,
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

-- POST /api/security-alerts: raise (or match) and audit in one call. Always returns {created, alert}; one
-- `alert_create` audit row either way (a suppressed duplicate records the request it absorbed).
CREATE OR REPLACE FUNCTION create_security_alert(p_type text, p_severity text, p_serial text, p_member uuid, p_kiosk text,
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

CREATE OR REPLACE FUNCTION badge_alert_member(b badges) RETURNS uuid
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
