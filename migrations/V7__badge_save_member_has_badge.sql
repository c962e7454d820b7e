-- badge_save (V6): refuse a member who already holds another badge with MEMBER_HAS_BADGE before writing,
-- instead of failing later inside badge_link (which surfaced as a generic 409 CONFLICT).

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
