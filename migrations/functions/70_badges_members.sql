-- Badge and member writes with their assignment rules.
-- Replaceable objects: applied after the versioned migrations whenever this file changes (docs/database.md).

-- Assigns an active, unassigned badge (caller has checked). Outcomes: OK, HOLDER_NOT_FOUND, MEMBER_HAS_BADGE.
CREATE OR REPLACE FUNCTION badge_link(p_badge uuid, p_type text, p_holder uuid) RETURNS text
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

-- Clears the current holder's reference to the badge (and any member pointing at it). Expired event
-- attendees keep theirs as history (docs/database.md, "Events").
CREATE OR REPLACE FUNCTION badge_unlink(b badges) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE members SET badge_id = NULL WHERE badge_id = b.id;
    IF b.assignment_type = 'visitor' THEN
        UPDATE visitors SET temporary_badge_id = NULL WHERE id = b.assigned_to_id AND temporary_badge_id = b.id;
    ELSIF b.assignment_type = 'event' THEN
        UPDATE event_attendees SET badge_id = NULL, badge_assigned_at = NULL WHERE id = b.assigned_to_id AND badge_id = b.id;
    END IF;
    UPDATE badges SET assignment_type = 'unassigned', assigned_to_id = NULL
    WHERE id = b.id AND assignment_type <> 'unassigned';
END $$;

-- Whether a holder of that type exists.
CREATE OR REPLACE FUNCTION badge_holder_exists(p_type text, p_holder uuid) RETURNS boolean
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
CREATE OR REPLACE FUNCTION badge_save(p_id uuid, f jsonb, p_user uuid, p_api_key text, p_ip text) RETURNS jsonb
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
    -- A returned badge has no holder.
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
        IF want_type = 'member' AND EXISTS (SELECT 1 FROM members WHERE id = want_holder
                                            AND badge_id IS NOT NULL AND badge_id IS DISTINCT FROM p_id) THEN
            RETURN jsonb_build_object('outcome', 'MEMBER_HAS_BADGE');
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
-- BADGE_ALREADY_ASSIGNED, MEMBER_HAS_BADGE. Re-assigning the same holder is OK with changed = false, and like
-- every successful call it writes one audit row.
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

-- POST /api/badges/:id/unassign (idempotent). Outcomes: OK, NOT_FOUND.
CREATE OR REPLACE FUNCTION badge_unassign(p_badge uuid, p_user uuid, p_api_key text, p_ip text) RETURNS jsonb
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
