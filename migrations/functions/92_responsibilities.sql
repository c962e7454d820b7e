-- Responsibilities: DDS (Duty Day Staff) and the Lockup responsibility tag, and the general tag holders.
-- Each write is one round trip with its responsibility-audit row (DDS and Lockup) and its audit_log row.
--
-- Invariants held by the schema (migrations/V3): at most one current (pending or active) DDS assignment
-- per operational day (dds_assignments_current_key) and at most one holder of a single-holder tag such as
-- Lockup (member_tags_single_holder_key). Locks, always in this order: the operational day's DDS lock
-- (dds_lock_day), then the Lockup tag row (lockup_move). Every DDS change takes the first, every change
-- of the Lockup holder the second, so concurrent changes serialise instead of failing on the indexes.
-- The active DDS holds the Lockup responsibility: accept, assign, transfer and set-today move it in the
-- same transaction (docs/database.md, "DDS and the Lockup responsibility").
-- Replaceable objects: applied after the versioned migrations whenever this file changes (docs/database.md).

-- The current (pending or active) DDS assignment of operational day p_day, or no row.
CREATE OR REPLACE FUNCTION dds_current(p_day date) RETURNS SETOF dds_assignments
LANGUAGE sql STABLE AS $$
    SELECT * FROM dds_assignments
    WHERE assigned_date = p_day AND status IN ('pending', 'active')
    ORDER BY created_at DESC, id DESC
    LIMIT 1
$$;

-- `dds:update` for a DDS change: the action and a summary of the assignment it left (NULL after a release).
CREATE OR REPLACE FUNCTION dds_announce(p_action text, p_assignment jsonb) RETURNS void
LANGUAGE sql AS $$
    SELECT emit_event('dds', 'dds:update', jsonb_build_object(
        'action', p_action,
        'assignment', CASE WHEN p_assignment IS NULL THEN NULL
                           ELSE jsonb_build_object('id', p_assignment->'id', 'memberId', p_assignment->'memberId',
                                                   'memberName', p_assignment->'member'->'name', 'rank', p_assignment->'member'->'rank',
                                                   'status', p_assignment->'status') END,
        'timestamp', iso(clock_timestamp())))
$$;

-- Serialises the DDS changes of one operational day until the transaction ends.
CREATE OR REPLACE FUNCTION dds_lock_day(p_day date) RETURNS void
LANGUAGE sql AS $$
    SELECT pg_advisory_xact_lock(hashtext('sentinel.dds_assignments'), p_day - DATE '2000-01-01')
$$;

-- Gives the Lockup tag to p_to, taking it from every other holder, and appends its responsibility-audit row
-- (`assigned` when nobody held it, else `transferred`). Locks the Lockup tag row first. NULL when p_to holds
-- it already (nothing written); else the move: {previousHolder, newHolder (LockupHolder), reason, transferId
-- (the responsibility-audit row), timestamp}, `reason` being p_reason, or `granted` for a `manual` move that
-- found nobody holding the tag. The caller checks the target (exists, active) and writes the audit_log row.
CREATE OR REPLACE FUNCTION lockup_move(p_to uuid, p_performed_by uuid, p_performed_by_type text, p_reason text, p_notes text)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    tag uuid;
    previous uuid;
    log_id uuid;
    moved jsonb;
BEGIN
    SELECT id INTO tag FROM tags WHERE name = 'Lockup' AND is_system FOR UPDATE;
    IF NOT FOUND THEN
        -- The seeded system tag cannot be deleted or renamed (protect_system_tag).
        RAISE EXCEPTION '[SN001 system_value] the system tag Lockup is missing' USING ERRCODE = 'SN001', CONSTRAINT = 'system_value';
    END IF;
    IF EXISTS (SELECT 1 FROM member_tags WHERE tag_id = tag AND member_id = p_to) THEN
        RETURN NULL;
    END IF;
    SELECT member_id INTO previous FROM member_tags WHERE tag_id = tag ORDER BY created_at DESC, id DESC LIMIT 1;
    DELETE FROM member_tags WHERE tag_id = tag;
    INSERT INTO member_tags (member_id, tag_id) VALUES (p_to, tag);
    INSERT INTO responsibility_audit_log (member_id, tag_name, action, from_member_id, to_member_id, performed_by,
                                          performed_by_type, notes)
    VALUES (p_to, 'Lockup', CASE WHEN previous IS NULL THEN 'assigned' ELSE 'transferred' END, previous, p_to,
            p_performed_by, p_performed_by_type, p_notes)
    RETURNING id INTO log_id;
    moved := jsonb_build_object(
        'previousHolder', (SELECT lockup_holder_json(m) FROM members m WHERE m.id = previous),
        'newHolder', (SELECT lockup_holder_json(m) FROM members m WHERE m.id = p_to),
        'reason', CASE WHEN previous IS NULL AND p_reason = 'manual' THEN 'granted' ELSE p_reason END,
        'transferId', log_id, 'timestamp', iso(now()));
    PERFORM emit_event('lockup', 'lockup:transferred', jsonb_build_object(
        'transferId', log_id,
        'fromMemberId', moved->'previousHolder'->'id',
        'fromMemberName', CASE WHEN previous IS NULL THEN NULL
                               ELSE (moved->'previousHolder'->>'firstName') || ' ' || (moved->'previousHolder'->>'lastName') END,
        'toMemberId', moved->'newHolder'->'id',
        'toMemberName', (moved->'newHolder'->>'firstName') || ' ' || (moved->'newHolder'->>'lastName'),
        'reason', moved->'reason', 'timestamp', moved->'timestamp'));
    RETURN moved;
END $$;

-- POST /api/tags/lockup/transfer, the rules in order: the Lockup tag exists; the target exists and
-- is active; a kiosk's badge proof (p_actor_serial: a badge of the current holder, or of the target when nobody
-- holds the tag); the target holding it already is OK with nothing written; else lockup_move grants or
-- transfers it. The performer is derived from the caller: a user (p_user) as `admin`, a kiosk as `member`, the
-- member its badge proved. Lock: the Lockup tag row, taken before the holder is read.
-- Outcomes: OK, TAG_NOT_FOUND, MEMBER_NOT_FOUND, MEMBER_NOT_ACTIVE, BADGE_PROOF_REQUIRED.
CREATE OR REPLACE FUNCTION lockup_transfer(p_to uuid, p_notes text, p_actor_serial text, p_user uuid, p_api_key text, p_ip text)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    tag uuid;
    target members%ROWTYPE;
    holder uuid;
    performer uuid := p_user;
    moved jsonb;
BEGIN
    SELECT id INTO tag FROM tags WHERE name = 'Lockup' AND is_system FOR UPDATE;
    IF NOT FOUND THEN RETURN jsonb_build_object('outcome', 'TAG_NOT_FOUND'); END IF;
    SELECT * INTO target FROM members WHERE id = p_to;
    IF NOT FOUND THEN RETURN jsonb_build_object('outcome', 'MEMBER_NOT_FOUND', 'memberId', p_to); END IF;
    IF target.status <> 'active' THEN
        RETURN jsonb_build_object('outcome', 'MEMBER_NOT_ACTIVE', 'memberId', p_to, 'status', target.status);
    END IF;
    SELECT member_id INTO holder FROM member_tags WHERE tag_id = tag ORDER BY created_at DESC, id DESC LIMIT 1;
    IF p_actor_serial IS NOT NULL THEN
        performer := coalesce(holder, p_to);
        IF NOT badge_proves(p_actor_serial, performer) THEN
            RETURN jsonb_build_object('outcome', 'BADGE_PROOF_REQUIRED');
        END IF;
    END IF;
    IF holder = p_to THEN
        RETURN jsonb_build_object('outcome', 'OK', 'previousHolder', lockup_holder_json(target),
                                  'newHolder', lockup_holder_json(target), 'moved', NULL);
    END IF;
    moved := lockup_move(p_to, performer, CASE WHEN p_actor_serial IS NOT NULL THEN 'member' ELSE 'admin' END,
                         'manual', p_notes);
    PERFORM write_audit(p_user, p_api_key, p_ip, 'lockup_transfer', 'lockup', tag,
                        jsonb_build_object('fromMemberId', moved->'previousHolder'->'id', 'toMemberId', p_to,
                                           'reason', moved->'reason', 'responsibilityLogId', moved->'transferId',
                                           'notes', p_notes));
    RETURN jsonb_build_object('outcome', 'OK', 'previousHolder', moved->'previousHolder',
                              'newHolder', moved->'newHolder', 'moved', moved);
END $$;

-- POST /api/dds/accept/:id: member p_member takes today's DDS. Rules in order: the member exists;
-- a kiosk's badge proof of that member; the member is active; then, under the day's lock: the member's own
-- active assignment is OK with nothing written (idempotent); the member's own pending assignment becomes
-- active; another current assignment refuses; else a new active assignment (no assignedBy). Responsibility
-- row `self_accepted`, performed by the caller (a user as `admin`, a kiosk as the member); Lockup follows.
-- Outcomes: OK, MEMBER_NOT_FOUND, BADGE_PROOF_REQUIRED, MEMBER_NOT_ACTIVE, ALREADY_ASSIGNED.
CREATE OR REPLACE FUNCTION dds_accept(p_member uuid, p_actor_serial text, p_zone text, p_rollover interval,
                                      p_user uuid, p_api_key text, p_ip text)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    m members%ROWTYPE;
    day date := operational_date(now(), p_zone, p_rollover);
    cur dds_assignments%ROWTYPE;
    a dds_assignments%ROWTYPE;
    moved jsonb;
BEGIN
    SELECT * INTO m FROM members WHERE id = p_member;
    IF NOT FOUND THEN RETURN jsonb_build_object('outcome', 'MEMBER_NOT_FOUND', 'memberId', p_member); END IF;
    IF p_actor_serial IS NOT NULL AND NOT badge_proves(p_actor_serial, p_member) THEN
        RETURN jsonb_build_object('outcome', 'BADGE_PROOF_REQUIRED');
    END IF;
    IF m.status <> 'active' THEN
        RETURN jsonb_build_object('outcome', 'MEMBER_NOT_ACTIVE', 'memberId', p_member, 'status', m.status);
    END IF;
    PERFORM dds_lock_day(day);
    SELECT * INTO cur FROM dds_current(day);
    IF FOUND AND cur.member_id = p_member AND cur.status = 'active' THEN
        RETURN jsonb_build_object('outcome', 'OK', 'assignment', dds_assignment_json(cur), 'action', NULL);
    ELSIF FOUND AND cur.member_id = p_member THEN
        UPDATE dds_assignments SET status = 'active', accepted_at = now() WHERE id = cur.id RETURNING * INTO a;
    ELSIF FOUND THEN
        RETURN jsonb_build_object('outcome', 'ALREADY_ASSIGNED');
    ELSE
        INSERT INTO dds_assignments (member_id, assigned_date, status, accepted_at)
        VALUES (p_member, day, 'active', now()) RETURNING * INTO a;
    END IF;
    INSERT INTO responsibility_audit_log (member_id, tag_name, action, to_member_id, performed_by, performed_by_type)
    VALUES (p_member, 'DDS', 'self_accepted', p_member, coalesce(p_user, p_member),
            CASE WHEN p_user IS NULL THEN 'member' ELSE 'admin' END);
    PERFORM dds_announce('accepted', dds_assignment_json(a));
    moved := lockup_move(p_member, NULL, 'system', 'dds_handoff', 'Auto-transferred on DDS acceptance');
    PERFORM write_audit(p_user, p_api_key, p_ip, 'dds_accept', 'dds', a.id,
                        jsonb_build_object('memberId', p_member, 'assignedDate', a.assigned_date,
                                           'acceptedPending', cur.id IS NOT NULL, 'lockupMoved', moved IS NOT NULL));
    RETURN jsonb_build_object('outcome', 'OK', 'assignment', dds_assignment_json(a), 'action', 'accepted', 'lockup', moved);
END $$;

-- POST /api/dds/assign: an administrator (p_user) makes p_member today's DDS. Rules in order: the
-- member exists and is active; under the day's lock, no current assignment; a new active assignment
-- (assignedBy the caller, notes). Responsibility row `assigned`; Lockup follows.
-- Outcomes: OK, MEMBER_NOT_FOUND, MEMBER_NOT_ACTIVE, ALREADY_ASSIGNED.
CREATE OR REPLACE FUNCTION dds_assign(p_member uuid, p_notes text, p_zone text, p_rollover interval,
                                      p_user uuid, p_api_key text, p_ip text)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    m members%ROWTYPE;
    day date := operational_date(now(), p_zone, p_rollover);
    a dds_assignments%ROWTYPE;
    moved jsonb;
BEGIN
    SELECT * INTO m FROM members WHERE id = p_member;
    IF NOT FOUND THEN RETURN jsonb_build_object('outcome', 'MEMBER_NOT_FOUND', 'memberId', p_member); END IF;
    IF m.status <> 'active' THEN
        RETURN jsonb_build_object('outcome', 'MEMBER_NOT_ACTIVE', 'memberId', p_member, 'status', m.status);
    END IF;
    PERFORM dds_lock_day(day);
    IF EXISTS (SELECT 1 FROM dds_current(day)) THEN RETURN jsonb_build_object('outcome', 'ALREADY_ASSIGNED'); END IF;
    INSERT INTO dds_assignments (member_id, assigned_date, status, accepted_at, assigned_by, notes)
    VALUES (p_member, day, 'active', now(), p_user, p_notes) RETURNING * INTO a;
    INSERT INTO responsibility_audit_log (member_id, tag_name, action, to_member_id, performed_by, performed_by_type, notes)
    VALUES (p_member, 'DDS', 'assigned', p_member, p_user, 'admin', p_notes);
    PERFORM dds_announce('assigned', dds_assignment_json(a));
    moved := lockup_move(p_member, NULL, 'system', 'dds_handoff', 'Auto-transferred on DDS assignment');
    PERFORM write_audit(p_user, p_api_key, p_ip, 'dds_assign', 'dds', a.id,
                        jsonb_build_object('memberId', p_member, 'assignedDate', a.assigned_date, 'notes', p_notes,
                                           'lockupMoved', moved IS NOT NULL));
    RETURN jsonb_build_object('outcome', 'OK', 'assignment', dds_assignment_json(a), 'action', 'assigned', 'lockup', moved);
END $$;

-- POST /api/dds/transfer: today's DDS passes to p_to. Rules in order: the target exists and is
-- active; under the day's lock, a current assignment exists; it is not the target's. The current row closes
-- (`transferred`, transferredTo, releasedAt) and a new active row opens for the target (assignedBy the caller,
-- notes). Responsibility row `transferred`; Lockup follows.
-- Outcomes: OK, MEMBER_NOT_FOUND, MEMBER_NOT_ACTIVE, NO_CURRENT, SAME_MEMBER.
CREATE OR REPLACE FUNCTION dds_transfer(p_to uuid, p_notes text, p_zone text, p_rollover interval,
                                        p_user uuid, p_api_key text, p_ip text)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    m members%ROWTYPE;
    day date := operational_date(now(), p_zone, p_rollover);
    cur dds_assignments%ROWTYPE;
    a dds_assignments%ROWTYPE;
    moved jsonb;
BEGIN
    SELECT * INTO m FROM members WHERE id = p_to;
    IF NOT FOUND THEN RETURN jsonb_build_object('outcome', 'MEMBER_NOT_FOUND', 'memberId', p_to); END IF;
    IF m.status <> 'active' THEN
        RETURN jsonb_build_object('outcome', 'MEMBER_NOT_ACTIVE', 'memberId', p_to, 'status', m.status);
    END IF;
    PERFORM dds_lock_day(day);
    SELECT * INTO cur FROM dds_current(day);
    IF NOT FOUND THEN RETURN jsonb_build_object('outcome', 'NO_CURRENT'); END IF;
    IF cur.member_id = p_to THEN RETURN jsonb_build_object('outcome', 'SAME_MEMBER'); END IF;
    UPDATE dds_assignments SET status = 'transferred', transferred_to = p_to, released_at = now() WHERE id = cur.id
    RETURNING * INTO cur;
    INSERT INTO dds_assignments (member_id, assigned_date, status, accepted_at, assigned_by, notes)
    VALUES (p_to, day, 'active', now(), p_user, p_notes) RETURNING * INTO a;
    INSERT INTO responsibility_audit_log (member_id, tag_name, action, from_member_id, to_member_id, performed_by,
                                          performed_by_type, notes)
    VALUES (p_to, 'DDS', 'transferred', cur.member_id, p_to, p_user, 'admin', p_notes);
    PERFORM dds_announce('transferred', dds_assignment_json(a));
    moved := lockup_move(p_to, NULL, 'system', 'dds_handoff', 'Auto-transferred on DDS transfer');
    PERFORM write_audit(p_user, p_api_key, p_ip, 'dds_transfer', 'dds', a.id,
                        jsonb_build_object('fromMemberId', cur.member_id, 'toMemberId', p_to, 'closedId', cur.id,
                                           'notes', p_notes, 'lockupMoved', moved IS NOT NULL));
    RETURN jsonb_build_object('outcome', 'OK', 'assignment', dds_assignment_json(a), 'action', 'transferred',
                              'lockup', moved, 'replaced', dds_assignment_json(cur));
END $$;

-- POST /api/dds/release: today's DDS ends. Rules in order: under the day's lock, a current
-- assignment exists; a kiosk's badge proof of its member. The row becomes `released` (releasedAt). Responsibility
-- row `released` performed by the caller (a user as `admin`, a kiosk as the DDS member). The Lockup holder is
-- unchanged. Outcomes: OK, NO_CURRENT, BADGE_PROOF_REQUIRED.
CREATE OR REPLACE FUNCTION dds_release(p_notes text, p_actor_serial text, p_zone text, p_rollover interval,
                                       p_user uuid, p_api_key text, p_ip text)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    day date := operational_date(now(), p_zone, p_rollover);
    cur dds_assignments%ROWTYPE;
BEGIN
    PERFORM dds_lock_day(day);
    SELECT * INTO cur FROM dds_current(day);
    IF NOT FOUND THEN RETURN jsonb_build_object('outcome', 'NO_CURRENT'); END IF;
    IF p_actor_serial IS NOT NULL AND NOT badge_proves(p_actor_serial, cur.member_id) THEN
        RETURN jsonb_build_object('outcome', 'BADGE_PROOF_REQUIRED');
    END IF;
    UPDATE dds_assignments SET status = 'released', released_at = now() WHERE id = cur.id RETURNING * INTO cur;
    INSERT INTO responsibility_audit_log (member_id, tag_name, action, from_member_id, performed_by, performed_by_type, notes)
    VALUES (cur.member_id, 'DDS', 'released', cur.member_id, coalesce(p_user, cur.member_id),
            CASE WHEN p_user IS NULL THEN 'member' ELSE 'admin' END, p_notes);
    PERFORM write_audit(p_user, p_api_key, p_ip, 'dds_release', 'dds', cur.id,
                        jsonb_build_object('memberId', cur.member_id, 'notes', p_notes));
    PERFORM dds_announce('released', NULL);
    RETURN jsonb_build_object('outcome', 'OK', 'assignment', NULL, 'action', 'released', 'replaced', dds_assignment_json(cur));
END $$;

-- POST /api/dds/set-today: an administrator replaces today's DDS with p_member. Rules in order: the member exists
-- and is active; under the day's lock: the member's own active assignment is OK with nothing written; the
-- member's own pending assignment becomes active (`assigned`); another member's current assignment closes as
-- `transferred` to p_member and a new active row opens (`transferred`); no current assignment: a new active row
-- (`assigned`). New rows have assignedBy the caller and the notes. Lockup follows.
-- Outcomes: OK, MEMBER_NOT_FOUND, MEMBER_NOT_ACTIVE.
CREATE OR REPLACE FUNCTION dds_set_today(p_member uuid, p_notes text, p_zone text, p_rollover interval,
                                         p_user uuid, p_api_key text, p_ip text)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    m members%ROWTYPE;
    day date := operational_date(now(), p_zone, p_rollover);
    cur dds_assignments%ROWTYPE;
    a dds_assignments%ROWTYPE;
    replaced jsonb;
    act text;
    moved jsonb;
BEGIN
    SELECT * INTO m FROM members WHERE id = p_member;
    IF NOT FOUND THEN RETURN jsonb_build_object('outcome', 'MEMBER_NOT_FOUND', 'memberId', p_member); END IF;
    IF m.status <> 'active' THEN
        RETURN jsonb_build_object('outcome', 'MEMBER_NOT_ACTIVE', 'memberId', p_member, 'status', m.status);
    END IF;
    PERFORM dds_lock_day(day);
    SELECT * INTO cur FROM dds_current(day);
    IF FOUND AND cur.member_id = p_member AND cur.status = 'active' THEN
        RETURN jsonb_build_object('outcome', 'OK', 'assignment', dds_assignment_json(cur), 'action', NULL);
    ELSIF FOUND AND cur.member_id = p_member THEN
        UPDATE dds_assignments SET status = 'active', accepted_at = now() WHERE id = cur.id RETURNING * INTO a;
        act := 'assigned';
    ELSE
        IF FOUND THEN
            UPDATE dds_assignments SET status = 'transferred', transferred_to = p_member, released_at = now()
            WHERE id = cur.id RETURNING * INTO cur;
            replaced := dds_assignment_json(cur);
            act := 'transferred';
        ELSE
            act := 'assigned';
        END IF;
        INSERT INTO dds_assignments (member_id, assigned_date, status, accepted_at, assigned_by, notes)
        VALUES (p_member, day, 'active', now(), p_user, p_notes) RETURNING * INTO a;
    END IF;
    INSERT INTO responsibility_audit_log (member_id, tag_name, action, from_member_id, to_member_id, performed_by,
                                          performed_by_type, notes)
    VALUES (p_member, 'DDS', act, CASE WHEN replaced IS NULL THEN NULL ELSE cur.member_id END, p_member, p_user,
            'admin', p_notes);
    PERFORM dds_announce(act, dds_assignment_json(a));
    moved := lockup_move(p_member, NULL, 'system', 'dds_handoff', 'Auto-transferred on DDS set for today');
    PERFORM write_audit(p_user, p_api_key, p_ip, 'dds_set_today', 'dds', a.id,
                        jsonb_build_object('memberId', p_member, 'assignedDate', a.assigned_date, 'action', act,
                                           'replacedId', replaced->'id', 'notes', p_notes, 'lockupMoved', moved IS NOT NULL));
    RETURN jsonb_build_object('outcome', 'OK', 'assignment', dds_assignment_json(a), 'action', act, 'lockup', moved,
                              'replaced', replaced);
END $$;

-- POST /api/members/:memberId/tags: gives member p_member tag p_tag. Rules in order: the member exists; the tag
-- exists; it is not a system tag (Lockup changes holders only through POST /api/tags/lockup/transfer and DDS);
-- the member holding it already is OK with nothing written (`changed` false); a single-holder tag held by
-- someone else refuses. Audit `member_tag_add`.
-- Outcomes: OK, MEMBER_NOT_FOUND, TAG_NOT_FOUND, PROTECTED_TAG, TAG_HELD.
CREATE OR REPLACE FUNCTION member_tag_add(p_member uuid, p_tag uuid, p_user uuid, p_api_key text, p_ip text)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    t tags%ROWTYPE;
    mt member_tags%ROWTYPE;
BEGIN
    PERFORM 1 FROM members WHERE id = p_member;
    IF NOT FOUND THEN RETURN jsonb_build_object('outcome', 'MEMBER_NOT_FOUND', 'memberId', p_member); END IF;
    SELECT * INTO t FROM tags WHERE id = p_tag;
    IF NOT FOUND THEN RETURN jsonb_build_object('outcome', 'TAG_NOT_FOUND', 'tagId', p_tag); END IF;
    IF t.is_system THEN RETURN jsonb_build_object('outcome', 'PROTECTED_TAG', 'tagName', t.name); END IF;
    SELECT * INTO mt FROM member_tags WHERE member_id = p_member AND tag_id = p_tag;
    IF FOUND THEN RETURN jsonb_build_object('outcome', 'OK', 'tag', member_tag_json(mt, t), 'changed', false); END IF;
    IF t.single_holder AND EXISTS (SELECT 1 FROM member_tags WHERE tag_id = p_tag) THEN
        RETURN jsonb_build_object('outcome', 'TAG_HELD', 'tagName', t.name);
    END IF;
    INSERT INTO member_tags (member_id, tag_id) VALUES (p_member, p_tag) RETURNING * INTO mt;
    PERFORM write_audit(p_user, p_api_key, p_ip, 'member_tag_add', 'member', p_member,
                        jsonb_build_object('tagId', t.id, 'tagName', t.name));
    RETURN jsonb_build_object('outcome', 'OK', 'tag', member_tag_json(mt, t), 'changed', true);
END $$;

-- DELETE /api/members/:memberId/tags/:tagId: takes tag p_tag from member p_member. Rules in order: the member
-- exists; the tag exists; it is not a system tag; the member holds it. Audit `member_tag_remove`.
-- Outcomes: OK, MEMBER_NOT_FOUND, TAG_NOT_FOUND, PROTECTED_TAG, NOT_HELD.
CREATE OR REPLACE FUNCTION member_tag_remove(p_member uuid, p_tag uuid, p_user uuid, p_api_key text, p_ip text)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    t tags%ROWTYPE;
    mt member_tags%ROWTYPE;
BEGIN
    PERFORM 1 FROM members WHERE id = p_member;
    IF NOT FOUND THEN RETURN jsonb_build_object('outcome', 'MEMBER_NOT_FOUND', 'memberId', p_member); END IF;
    SELECT * INTO t FROM tags WHERE id = p_tag;
    IF NOT FOUND THEN RETURN jsonb_build_object('outcome', 'TAG_NOT_FOUND', 'tagId', p_tag); END IF;
    IF t.is_system THEN RETURN jsonb_build_object('outcome', 'PROTECTED_TAG', 'tagName', t.name); END IF;
    DELETE FROM member_tags WHERE member_id = p_member AND tag_id = p_tag RETURNING * INTO mt;
    IF NOT FOUND THEN RETURN jsonb_build_object('outcome', 'NOT_HELD', 'tagName', t.name); END IF;
    PERFORM write_audit(p_user, p_api_key, p_ip, 'member_tag_remove', 'member', p_member,
                        jsonb_build_object('tagId', t.id, 'tagName', t.name));
    RETURN jsonb_build_object('outcome', 'OK', 'tag', member_tag_json(mt, t), 'changed', true);
END $$;
