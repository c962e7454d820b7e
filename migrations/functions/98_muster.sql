-- Muster roll calls: start from who is inside, account for each person, close.
-- Replaceable objects: applied after the versioned migrations whenever this file changes (docs/database.md).

-- One person of a muster (OpenAPI schema MusterPerson).
CREATE OR REPLACE FUNCTION muster_person_json(p muster_people) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'personId', p.person_id, 'type', p.person_type, 'name', p.name, 'rank', p.rank, 'division', p.division,
        'organization', p.organization, 'checkedInAt', iso(p.checked_in_at), 'accounted', p.accounted_at IS NOT NULL,
        'accountedAt', iso(p.accounted_at), 'accountedBy', p.accounted_by, 'accountedMethod', p.accounted_method)
$$;

-- The Muster object: the roll call with its counts and everyone on it (missing first, then by name).
CREATE OR REPLACE FUNCTION muster_json(m musters) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', m.id, 'status', m.status, 'reason', m.reason, 'startedAt', iso(m.started_at), 'startedBy', m.started_by,
        'closedAt', iso(m.closed_at), 'closedBy', m.closed_by,
        'total', count(p.person_id), 'accounted', count(p.accounted_at), 'missing', count(p.person_id) - count(p.accounted_at),
        'people', coalesce(jsonb_agg(muster_person_json(p) ORDER BY p.accounted_at IS NOT NULL, p.name, p.person_id)
                           FILTER (WHERE p.person_id IS NOT NULL), '[]'::jsonb))
    FROM (SELECT m.id) x LEFT JOIN muster_people p ON p.muster_id = x.id
$$;

-- The `muster:update` payload: the muster's counts after `p_action`, and the person it concerned.
CREATE OR REPLACE FUNCTION muster_event_json(p_muster uuid, p_action text, p_person jsonb) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'musterId', mu.id, 'action', p_action, 'status', mu.status,
        'total', (SELECT count(*) FROM muster_people WHERE muster_id = mu.id),
        'accounted', (SELECT count(accounted_at) FROM muster_people WHERE muster_id = mu.id),
        'missing', (SELECT count(*) FROM muster_people WHERE muster_id = mu.id AND accounted_at IS NULL),
        'person', p_person, 'timestamp', iso(clock_timestamp()))
    FROM musters mu WHERE mu.id = p_muster
$$;

-- Emits `muster:update` (docs/database.md, "Realtime outbox") and returns its payload.
CREATE OR REPLACE FUNCTION muster_announce(p_muster uuid, p_action text, p_person jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    payload jsonb := muster_event_json(p_muster, p_action, p_person);
BEGIN
    PERFORM emit_event('muster', 'muster:update', payload);
    RETURN payload;
END $$;

-- POST /api/muster: a roll call of everyone inside now (present members, then visitors on site).
-- Outcomes: OK, MUSTER_IN_PROGRESS.
CREATE OR REPLACE FUNCTION muster_start(p_reason text, p_user uuid, p_api_key text, p_ip text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    mu musters%ROWTYPE;
BEGIN
    SELECT * INTO mu FROM musters WHERE status = 'open';
    IF FOUND THEN RETURN jsonb_build_object('outcome', 'MUSTER_IN_PROGRESS', 'musterId', mu.id); END IF;
    INSERT INTO musters (reason, started_by) VALUES (p_reason, p_user) RETURNING * INTO mu;
    INSERT INTO muster_people (muster_id, person_type, person_id, name, rank, division, checked_in_at)
    SELECT mu.id, 'member', m.id, m.first_name || ' ' || m.last_name, m.rank, d.name, pm.since
    FROM present_members pm JOIN members m ON m.id = pm.member_id LEFT JOIN divisions d ON d.id = m.division_id;
    INSERT INTO muster_people (muster_id, person_type, person_id, name, organization, checked_in_at)
    SELECT mu.id, 'visitor', v.id, v.name, v.organization, v.check_in_time FROM visitors v WHERE v.check_out_time IS NULL;
    PERFORM write_audit(p_user, p_api_key, p_ip, 'muster_start', 'muster', mu.id,
                        jsonb_build_object('reason', p_reason, 'people', (SELECT count(*) FROM muster_people WHERE muster_id = mu.id)));
    RETURN jsonb_build_object('outcome', 'OK', 'muster', muster_json(mu), 'event', muster_announce(mu.id, 'started', NULL));
END $$;

-- Marks person p_person of the open muster accounted for (idempotent: the first time stays), by staff
-- ('manual') or by a badge scan ('scan'). Outcomes: OK, NOT_FOUND, MUSTER_CLOSED, PERSON_NOT_FOUND.
CREATE OR REPLACE FUNCTION muster_account(p_muster uuid, p_person uuid, p_method text, p_user uuid, p_api_key text, p_ip text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    mu musters%ROWTYPE;
    p muster_people%ROWTYPE;
    changed boolean;
BEGIN
    SELECT * INTO mu FROM musters WHERE id = p_muster FOR SHARE;
    IF NOT FOUND THEN RETURN jsonb_build_object('outcome', 'NOT_FOUND'); END IF;
    IF mu.status <> 'open' THEN RETURN jsonb_build_object('outcome', 'MUSTER_CLOSED'); END IF;
    SELECT * INTO p FROM muster_people WHERE muster_id = p_muster AND person_id = p_person FOR UPDATE;
    IF NOT FOUND THEN RETURN jsonb_build_object('outcome', 'PERSON_NOT_FOUND', 'personId', p_person); END IF;
    changed := p.accounted_at IS NULL;
    IF changed THEN
        UPDATE muster_people SET accounted_at = clock_timestamp(), accounted_by = p_user, accounted_method = p_method
        WHERE muster_id = p_muster AND person_id = p_person RETURNING * INTO p;
        PERFORM write_audit(p_user, p_api_key, p_ip, 'muster_account', 'muster', p_muster,
                            jsonb_build_object('personId', p_person, 'name', p.name, 'method', p_method));
    END IF;
    RETURN jsonb_build_object('outcome', 'OK', 'changed', changed, 'person', muster_person_json(p),
                              'event', CASE WHEN changed THEN muster_announce(p_muster, 'accounted', muster_person_json(p)) END);
END $$;

-- A badge scan of person p_person (a member, or a visitor by their temporary badge) during an open muster
-- accounts for them: the `muster:update` payload, or NULL when no open muster is waiting for them. Called by
-- the scan path.
CREATE OR REPLACE FUNCTION muster_scan(p_person uuid) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    p muster_people%ROWTYPE;
BEGIN
    UPDATE muster_people mp SET accounted_at = clock_timestamp(), accounted_method = 'scan'
    FROM musters mu
    WHERE mp.person_id = p_person AND mp.accounted_at IS NULL AND mu.id = mp.muster_id AND mu.status = 'open'
    RETURNING mp.* INTO p;
    IF p.muster_id IS NULL THEN RETURN NULL; END IF;
    RETURN muster_announce(p.muster_id, 'accounted', muster_person_json(p));
END $$;

-- POST /api/muster/:id/close (idempotent). Outcomes: OK, NOT_FOUND.
CREATE OR REPLACE FUNCTION muster_close(p_muster uuid, p_user uuid, p_api_key text, p_ip text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    mu musters%ROWTYPE;
    changed boolean;
BEGIN
    SELECT * INTO mu FROM musters WHERE id = p_muster FOR UPDATE;
    IF NOT FOUND THEN RETURN jsonb_build_object('outcome', 'NOT_FOUND'); END IF;
    changed := mu.status = 'open';
    IF changed THEN
        UPDATE musters SET status = 'closed', closed_at = now(), closed_by = p_user WHERE id = p_muster RETURNING * INTO mu;
        PERFORM write_audit(p_user, p_api_key, p_ip, 'muster_close', 'muster', mu.id,
                            jsonb_build_object('missing', (SELECT count(*) FROM muster_people WHERE muster_id = mu.id AND accounted_at IS NULL)));
    END IF;
    RETURN jsonb_build_object('outcome', 'OK', 'muster', muster_json(mu),
                              'event', CASE WHEN changed THEN muster_announce(mu.id, 'closed', NULL) END);
END $$;
