-- Lockup: the end-of-day building lockup, and the building's status per operational day.
-- Replaceable objects: applied after the versioned migrations whenever this file changes (docs/database.md).

-- The building's status on operational day p_day (OpenAPI schema BuildingStatus); a day nobody opened is secured.
CREATE OR REPLACE FUNCTION building_status_json(p_day date) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'date', iso_date(p_day),
        'buildingStatus', coalesce(s.status, 'secured'),
        'openedAt', iso(s.opened_at), 'openedBy', s.opened_by,
        'securedAt', iso(s.secured_at), 'securedBy', s.secured_by,
        'lockupExecutionId', s.lockup_execution_id,
        'currentHolder', (SELECT lockup_holder_json(m) FROM member_tags mt
                          JOIN tags t ON t.id = mt.tag_id AND t.name = 'Lockup' AND t.is_system
                          JOIN members m ON m.id = mt.member_id))
    FROM (SELECT p_day AS day) d
    LEFT JOIN building_status s ON s.operational_date = d.day
$$;

-- The `lockup:status` payload for p_day.
CREATE OR REPLACE FUNCTION lockup_status_event_json(p_day date) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('date', b->'date', 'buildingStatus', b->'buildingStatus', 'currentHolder', b->'currentHolder',
                              'timestamp', iso(clock_timestamp()))
    FROM building_status_json(p_day) b
$$;

-- POST /api/lockup/open/:id: a present, active member opens the building for the operational day.
-- Outcomes: OK, NOT_FOUND, BADGE_PROOF_REQUIRED, MEMBER_NOT_ACTIVE, NOT_CHECKED_IN, ALREADY_OPEN.
CREATE OR REPLACE FUNCTION building_open(p_member uuid, p_actor_serial text, p_zone text, p_rollover interval,
                                         p_user uuid, p_api_key text, p_ip text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    m members%ROWTYPE;
    today date := operational_date(now(), p_zone, p_rollover);
    current text;
BEGIN
    SELECT * INTO m FROM members WHERE id = p_member;
    IF NOT FOUND THEN RETURN jsonb_build_object('outcome', 'NOT_FOUND'); END IF;
    IF p_actor_serial IS NOT NULL AND NOT badge_proves(p_actor_serial, m.id) THEN
        RETURN jsonb_build_object('outcome', 'BADGE_PROOF_REQUIRED');
    END IF;
    IF m.status <> 'active' THEN RETURN jsonb_build_object('outcome', 'MEMBER_NOT_ACTIVE', 'status', m.status); END IF;
    IF NOT EXISTS (SELECT 1 FROM member_presence WHERE member_id = m.id AND direction = 'in') THEN
        RETURN jsonb_build_object('outcome', 'NOT_CHECKED_IN');
    END IF;
    SELECT status INTO current FROM building_status WHERE operational_date = today FOR UPDATE;
    IF current = 'open' THEN RETURN jsonb_build_object('outcome', 'ALREADY_OPEN', 'status', building_status_json(today)); END IF;
    INSERT INTO building_status (operational_date, status, opened_at, opened_by)
    VALUES (today, 'open', now(), m.id)
    ON CONFLICT (operational_date) DO UPDATE SET status = 'open', opened_at = now(), opened_by = m.id;
    PERFORM write_audit(p_user, p_api_key, p_ip, 'building_open', 'lockup', m.id, jsonb_build_object('date', iso_date(today)));
    PERFORM emit_event('lockup', 'lockup:status', lockup_status_event_json(today));
    RETURN jsonb_build_object('outcome', 'OK', 'status', building_status_json(today), 'event', lockup_status_event_json(today));
END $$;

-- POST /api/lockup/execute/:id: the Lockup holder empties the building in one transaction — every present
-- member (badge-less ones too; the performer last) gets an `out` check-in (method lockup, kiosk
-- lockup-checkout) through record_checkin, every on-site visitor is signed out through visitor_sign_out
-- (temporary badges return to the pool), then the responsibility-audit row, the LockupExecution and the
-- day's building status `secured`. Executions serialise on the Lockup tag row; each member is locked and
-- re-checked by record_checkin, so a scan racing the lockup is either checked out or lands inside the
-- duplicate window after it. Outcomes: OK, NOT_FOUND, BADGE_PROOF_REQUIRED, NOT_AUTHORIZED.
CREATE OR REPLACE FUNCTION lockup_execute(p_member uuid, p_actor_serial text, p_note text, p_zone text, p_rollover interval,
                                          p_user uuid, p_api_key text, p_ip text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    performer members%ROWTYPE;
    today date := operational_date(now(), p_zone, p_rollover);
    at timestamptz := now();
    target uuid;
    r jsonb;
    member_ids jsonb := '[]'::jsonb;
    member_names jsonb := '[]'::jsonb;
    visitor_ids jsonb := '[]'::jsonb;
    visitor_names jsonb := '[]'::jsonb;
    checkin_events jsonb := '[]'::jsonb;
    signed_out jsonb := '[]'::jsonb;
    badges_changed jsonb := '[]'::jsonb;
    v visitors%ROWTYPE;
    n_members integer;
    n_visitors integer;
    note text;
    audit_id uuid;
    execution_id uuid;
BEGIN
    SELECT * INTO performer FROM members WHERE id = p_member;
    IF NOT FOUND THEN RETURN jsonb_build_object('outcome', 'NOT_FOUND'); END IF;
    IF p_actor_serial IS NOT NULL AND NOT badge_proves(p_actor_serial, performer.id) THEN
        RETURN jsonb_build_object('outcome', 'BADGE_PROOF_REQUIRED');
    END IF;
    PERFORM 1 FROM tags WHERE name = 'Lockup' AND is_system FOR UPDATE;
    IF NOT holds_lockup(performer.id) THEN RETURN jsonb_build_object('outcome', 'NOT_AUTHORIZED'); END IF;

    -- Everyone else first, the performer last.
    FOR target IN
        SELECT p.member_id FROM member_presence p JOIN members m ON m.id = p.member_id
        WHERE p.direction = 'in' AND m.status = 'active'
        ORDER BY (p.member_id = performer.id), p.member_id
    LOOP
        r := record_checkin(target, NULL, 'out', 'lockup-checkout', 'lockup', at, NULL, NULL, NULL, p_user, false, true,
                            p_api_key, p_ip, 'checkin_create', jsonb_build_object('method', 'lockup', 'performedBy', performer.id));
        IF r->>'outcome' = 'OK' THEN
            member_ids := member_ids || to_jsonb(target::text);
            member_names := member_names || jsonb_build_object('id', target, 'name', r->'event'->>'memberName');
            checkin_events := checkin_events || (r->'event');
        END IF;
    END LOOP;
    FOR v IN SELECT * FROM visitors WHERE check_out_time IS NULL ORDER BY check_in_time, id LOOP
        r := visitor_sign_out(v.id, p_user, p_api_key, p_ip);
        IF (r->>'signedOut')::boolean THEN
            visitor_ids := visitor_ids || to_jsonb(v.id::text);
            visitor_names := visitor_names || jsonb_build_object('id', v.id, 'name', v.name);
            signed_out := signed_out || (r->'visitor');
            badges_changed := badges_changed || (r->'badges');
        END IF;
    END LOOP;
    n_members := jsonb_array_length(member_ids);
    n_visitors := jsonb_array_length(visitor_ids);
    note := coalesce(p_note, format('Lockup executed. Checked out %s members and %s visitors.', n_members, n_visitors));
    INSERT INTO responsibility_audit_log (member_id, tag_name, action, performed_by, performed_by_type, "timestamp", notes)
    VALUES (performer.id, 'Lockup', 'building_lockup', performer.id, 'member', at, note)
    RETURNING id INTO audit_id;
    INSERT INTO lockup_executions (executed_by, executed_at, operational_date, members_checked_out, visitors_checked_out,
                                   total_checked_out, notes, audit_log_id)
    VALUES (performer.id, at, today, member_names, visitor_names, n_members + n_visitors, note, audit_id)
    RETURNING id INTO execution_id;
    INSERT INTO building_status (operational_date, status, secured_at, secured_by, lockup_execution_id)
    VALUES (today, 'secured', at, performer.id, execution_id)
    ON CONFLICT (operational_date) DO UPDATE
        SET status = 'secured', secured_at = at, secured_by = performer.id, lockup_execution_id = execution_id;
    PERFORM write_audit(p_user, p_api_key, p_ip, 'lockup_execute', 'lockup', execution_id,
                        jsonb_build_object('performedBy', performer.id, 'membersCheckedOut', n_members,
                                           'visitorsCheckedOut', n_visitors));
    PERFORM emit_event('lockup', 'lockup:executed', jsonb_build_object(
        'performedBy', performer.id, 'performedByName', performer.first_name || ' ' || performer.last_name,
        'membersCheckedOut', n_members, 'visitorsCheckedOut', n_visitors, 'timestamp', iso(at), 'executionId', execution_id));
    PERFORM emit_event('lockup', 'lockup:status', lockup_status_event_json(today));
    RETURN jsonb_build_object(
        'outcome', 'OK',
        'result', jsonb_build_object(
            'success', true,
            'message', format('Lockup executed successfully. Checked out %s members and %s visitors.', n_members, n_visitors),
            'checkedOut', jsonb_build_object('members', member_ids, 'visitors', visitor_ids),
            'auditLogId', audit_id, 'executionId', execution_id,
            'stats', jsonb_build_object('membersCheckedOut', n_members, 'visitorsCheckedOut', n_visitors,
                                        'totalCheckedOut', n_members + n_visitors)),
        'checkinEvents', checkin_events,
        'signedOutVisitors', signed_out,
        'badges', badges_changed,
        'executed', jsonb_build_object('performedBy', performer.id, 'performedByName', performer.first_name || ' ' || performer.last_name,
                                       'membersCheckedOut', n_members, 'visitorsCheckedOut', n_visitors,
                                       'timestamp', iso(at), 'executionId', execution_id),
        'status', lockup_status_event_json(today));
END $$;
