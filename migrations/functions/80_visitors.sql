-- Visitors: sign-in, sign-out and corrections, each one round trip with its audit row. Temporary badges are
-- taken and returned through badge_assign and badge_unassign (70_badges_members.sql), so a visitor's badge
-- follows the same rules, outcomes and audit rows as any other badge assignment.
-- Replaceable objects: applied after the versioned migrations whenever this file changes (docs/database.md).

-- The references a visitor body names (only the keys it holds): event, host, visit type by code and/or id.
-- `refusal` is an outcome object, or NULL with `visit_type` the code the body denotes (NULL when it names none).
CREATE OR REPLACE FUNCTION visitor_check_refs(f jsonb, OUT refusal jsonb, OUT visit_type text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    by_id text;
BEGIN
    IF f->>'eventId' IS NOT NULL AND NOT EXISTS (SELECT 1 FROM events WHERE id = (f->>'eventId')::uuid) THEN
        refusal := jsonb_build_object('outcome', 'EVENT_NOT_FOUND', 'eventId', f->>'eventId');
        RETURN;
    END IF;
    IF f->>'hostMemberId' IS NOT NULL AND NOT EXISTS (SELECT 1 FROM members WHERE id = (f->>'hostMemberId')::uuid) THEN
        refusal := jsonb_build_object('outcome', 'HOST_NOT_FOUND', 'hostMemberId', f->>'hostMemberId');
        RETURN;
    END IF;
    IF f->>'visitType' IS NOT NULL THEN
        SELECT t.code INTO visit_type FROM visit_types t WHERE t.code = f->>'visitType';
        IF NOT FOUND THEN
            refusal := jsonb_build_object('outcome', 'VISIT_TYPE_NOT_FOUND', 'visitType', f->>'visitType');
            RETURN;
        END IF;
    END IF;
    IF f->>'visitTypeId' IS NOT NULL THEN
        SELECT t.code INTO by_id FROM visit_types t WHERE t.id = (f->>'visitTypeId')::uuid;
        IF NOT FOUND THEN
            refusal := jsonb_build_object('outcome', 'VISIT_TYPE_NOT_FOUND', 'visitType', f->>'visitTypeId');
            RETURN;
        END IF;
        IF visit_type IS NOT NULL AND visit_type <> by_id THEN
            refusal := jsonb_build_object('outcome', 'VISIT_TYPE_MISMATCH');
            RETURN;
        END IF;
        visit_type := by_id;
    END IF;
END $$;

-- Returns badge `p_badge` to the pool if visitor `p_visitor` still holds it (badge_unassign: its audit row,
-- and the visitor's temporary_badge_id cleared). The Badge object when it was released, else NULL.
CREATE OR REPLACE FUNCTION visitor_release_badge(p_visitor uuid, p_badge uuid, p_user uuid, p_api_key text, p_ip text)
RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    IF p_badge IS NULL THEN RETURN NULL; END IF;
    -- Locked and re-checked: a badge handed to someone else meanwhile is not taken from them.
    PERFORM 1 FROM badges WHERE id = p_badge AND assignment_type = 'visitor' AND assigned_to_id = p_visitor FOR UPDATE;
    IF NOT FOUND THEN RETURN NULL; END IF;
    RETURN badge_unassign(p_badge, p_user, p_api_key, p_ip)->'badge';
END $$;

-- `<rank> <first> <last>` of the visitor's host, or NULL.
CREATE OR REPLACE FUNCTION visitor_host_name(v visitors) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT m.rank || ' ' || m.first_name || ' ' || m.last_name FROM members m WHERE m.id = v.host_member_id
$$;

-- POST /api/visitors. `f`: the validated body, instants as ISO text, `kioskId` and `checkInMethod` decided by
-- the API. The temporary badge must be free and active (badge_assign); two sign-ins racing for one badge
-- serialise on its row lock and the second gets BADGE_ALREADY_ASSIGNED.
-- Outcomes: OK, EVENT_NOT_FOUND, HOST_NOT_FOUND, VISIT_TYPE_NOT_FOUND, VISIT_TYPE_MISMATCH,
-- CHECK_OUT_BEFORE_CHECK_IN, BADGE_FOR_SIGNED_OUT, BADGE_REFUSED (`refusal`: badge_assign's outcome).
CREATE OR REPLACE FUNCTION visitor_sign_in(f jsonb, p_user uuid, p_api_key text, p_ip text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    refs record;
    v visitors%ROWTYPE;
    check_in timestamptz := coalesce((f->>'checkInTime')::timestamptz, now());
    check_out timestamptz := (f->>'checkOutTime')::timestamptz;
    assigned jsonb;
    changed jsonb := '[]'::jsonb;
BEGIN
    SELECT * INTO refs FROM visitor_check_refs(f);
    IF refs.refusal IS NOT NULL THEN RETURN refs.refusal; END IF;
    IF check_out < check_in THEN RETURN jsonb_build_object('outcome', 'CHECK_OUT_BEFORE_CHECK_IN'); END IF;
    IF check_out IS NOT NULL AND f->>'temporaryBadgeId' IS NOT NULL THEN
        RETURN jsonb_build_object('outcome', 'BADGE_FOR_SIGNED_OUT');
    END IF;
    INSERT INTO visitors (name, organization, visit_type, visit_reason, event_id, host_member_id, check_in_time,
                          check_out_time, kiosk_id, admin_notes, check_in_method, created_by_admin)
    VALUES (f->>'name', f->>'organization', refs.visit_type, f->>'visitReason', (f->>'eventId')::uuid,
            (f->>'hostMemberId')::uuid, check_in, check_out, f->>'kioskId', f->>'adminNotes', f->>'checkInMethod', p_user)
    RETURNING * INTO v;
    IF f->>'temporaryBadgeId' IS NOT NULL THEN
        assigned := badge_assign((f->>'temporaryBadgeId')::uuid, 'visitor', v.id, p_user, p_api_key, p_ip);
        IF assigned->>'outcome' <> 'OK' THEN
            DELETE FROM visitors WHERE id = v.id;  -- nothing else refers to it yet
            RETURN jsonb_build_object('outcome', 'BADGE_REFUSED', 'refusal', assigned);
        END IF;
        changed := jsonb_build_array(assigned->'badge');
        SELECT * INTO v FROM visitors WHERE id = v.id;
    END IF;
    PERFORM write_audit(p_user, p_api_key, p_ip, 'visitor_sign_in', 'visitor', v.id, jsonb_build_object('after', visitor_json(v)));
    RETURN jsonb_build_object('outcome', 'OK', 'visitor', visitor_json(v), 'hostName', visitor_host_name(v),
                              'signedOut', false, 'badges', changed);
END $$;

-- POST /api/visitors/:id/checkout. Idempotent: a visitor already signed out keeps the first checkout time and
-- `signedOut` is false (no second push). The temporary badge returns to the pool; the visit keeps
-- temporaryBadgeId as the badge it used. A check-in time in the future is the earliest possible checkout.
-- Outcomes: OK, NOT_FOUND.
CREATE OR REPLACE FUNCTION visitor_sign_out(p_id uuid, p_user uuid, p_api_key text, p_ip text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v visitors%ROWTYPE;
    released jsonb;
BEGIN
    SELECT * INTO v FROM visitors WHERE id = p_id FOR UPDATE;
    IF NOT FOUND THEN RETURN jsonb_build_object('outcome', 'NOT_FOUND'); END IF;
    IF v.check_out_time IS NOT NULL THEN
        PERFORM write_audit(p_user, p_api_key, p_ip, 'visitor_sign_out', 'visitor', v.id, jsonb_build_object('changed', false));
        RETURN jsonb_build_object('outcome', 'OK', 'visitor', visitor_json(v), 'signedOut', false, 'badges', '[]'::jsonb);
    END IF;
    released := visitor_release_badge(v.id, v.temporary_badge_id, p_user, p_api_key, p_ip);
    UPDATE visitors SET check_out_time = greatest(now(), check_in_time), temporary_badge_id = v.temporary_badge_id
    WHERE id = p_id RETURNING * INTO v;
    PERFORM write_audit(p_user, p_api_key, p_ip, 'visitor_sign_out', 'visitor', v.id,
                        jsonb_build_object('changed', true, 'checkOutTime', iso(v.check_out_time),
                                           'releasedBadgeId', released->'id'));
    RETURN jsonb_build_object('outcome', 'OK', 'visitor', visitor_json(v), 'signedOut', true,
                              'badges', CASE WHEN released IS NULL THEN '[]'::jsonb ELSE jsonb_build_array(released) END);
END $$;

-- PATCH /api/visitors/:id. `f` holds only the fields the client sent. Setting checkOutTime signs the visitor
-- out as the checkout does (badge returned, kept as history); clearing it once set is refused. A new
-- temporaryBadgeId follows badge_assign's rules and returns the previous badge; null returns it.
-- Outcomes: OK, NOT_FOUND, EVENT_NOT_FOUND, HOST_NOT_FOUND, VISIT_TYPE_NOT_FOUND, VISIT_TYPE_MISMATCH,
-- CHECK_OUT_BEFORE_CHECK_IN, CHECK_OUT_CLEARED, BADGE_FOR_SIGNED_OUT, BADGE_REFUSED (`refusal`: badge_assign's outcome).
CREATE OR REPLACE FUNCTION visitor_update(p_id uuid, f jsonb, p_user uuid, p_api_key text, p_ip text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v visitors%ROWTYPE;
    before jsonb;
    refs record;
    check_in timestamptz;
    check_out timestamptz;
    badge_sent boolean := f ? 'temporaryBadgeId';
    new_badge uuid := (f->>'temporaryBadgeId')::uuid;
    assigned jsonb;
    released jsonb;
    changed jsonb := '[]'::jsonb;
    signed_out boolean;
BEGIN
    SELECT * INTO v FROM visitors WHERE id = p_id FOR UPDATE;
    IF NOT FOUND THEN RETURN jsonb_build_object('outcome', 'NOT_FOUND'); END IF;
    before := visitor_json(v);
    SELECT * INTO refs FROM visitor_check_refs(f);
    IF refs.refusal IS NOT NULL THEN RETURN refs.refusal; END IF;
    check_in := coalesce((f->>'checkInTime')::timestamptz, v.check_in_time);
    IF f ? 'checkOutTime' AND f->>'checkOutTime' IS NULL AND v.check_out_time IS NOT NULL THEN
        RETURN jsonb_build_object('outcome', 'CHECK_OUT_CLEARED');
    END IF;
    check_out := coalesce((f->>'checkOutTime')::timestamptz, v.check_out_time);
    IF check_out < check_in THEN RETURN jsonb_build_object('outcome', 'CHECK_OUT_BEFORE_CHECK_IN'); END IF;
    signed_out := v.check_out_time IS NULL AND check_out IS NOT NULL;
    IF new_badge IS NOT NULL AND new_badge IS DISTINCT FROM v.temporary_badge_id AND check_out IS NOT NULL THEN
        RETURN jsonb_build_object('outcome', 'BADGE_FOR_SIGNED_OUT');
    END IF;

    IF new_badge IS NOT NULL AND new_badge IS DISTINCT FROM v.temporary_badge_id AND check_out IS NULL THEN
        assigned := badge_assign(new_badge, 'visitor', v.id, p_user, p_api_key, p_ip);
        IF assigned->>'outcome' <> 'OK' THEN
            RETURN jsonb_build_object('outcome', 'BADGE_REFUSED', 'refusal', assigned);
        END IF;
        IF (assigned->>'changed')::boolean THEN changed := changed || jsonb_build_array(assigned->'badge'); END IF;
    END IF;
    IF signed_out OR (badge_sent AND new_badge IS DISTINCT FROM v.temporary_badge_id) THEN
        released := visitor_release_badge(v.id, v.temporary_badge_id, p_user, p_api_key, p_ip);
        IF released IS NOT NULL THEN changed := changed || jsonb_build_array(released); END IF;
    END IF;

    UPDATE visitors SET
        name = coalesce(f->>'name', name),
        organization = CASE WHEN f ? 'organization' THEN f->>'organization' ELSE organization END,
        visit_type = coalesce(refs.visit_type, visit_type),
        visit_reason = CASE WHEN f ? 'visitReason' THEN f->>'visitReason' ELSE visit_reason END,
        event_id = CASE WHEN f ? 'eventId' THEN (f->>'eventId')::uuid ELSE event_id END,
        host_member_id = CASE WHEN f ? 'hostMemberId' THEN (f->>'hostMemberId')::uuid ELSE host_member_id END,
        check_in_time = check_in,
        check_out_time = check_out,
        -- the new badge, or the one the visit used (kept as history when the visitor signs out)
        temporary_badge_id = CASE WHEN badge_sent THEN new_badge ELSE v.temporary_badge_id END,
        kiosk_id = coalesce(f->>'kioskId', kiosk_id),
        admin_notes = CASE WHEN f ? 'adminNotes' THEN f->>'adminNotes' ELSE admin_notes END,
        check_in_method = coalesce(f->>'checkInMethod', check_in_method)
    WHERE id = p_id
    RETURNING * INTO v;
    PERFORM write_audit(p_user, p_api_key, p_ip, 'visitor_update', 'visitor', v.id,
                        jsonb_build_object('before', before, 'after', visitor_json(v)));
    RETURN jsonb_build_object('outcome', 'OK', 'visitor', visitor_json(v), 'hostName', visitor_host_name(v),
                              'signedOut', signed_out, 'badges', changed);
END $$;
