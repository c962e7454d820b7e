-- Presence: the materialised member_presence table, its derivation, and the live figures.
-- Replaceable objects: applied after the versioned migrations whenever this file changes (docs/database.md).

CREATE OR REPLACE FUNCTION refresh_member_presence(member uuid) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    latest record;
BEGIN
    -- Serialise writers per member: after this lock the next statement (fresh snapshot under READ COMMITTED)
    -- sees every check-in committed by a concurrent writer, so the latest is never computed from stale data.
    -- NO KEY UPDATE does not conflict with the KEY SHARE locks taken by foreign-key checks.
    PERFORM 1 FROM members WHERE id = member FOR NO KEY UPDATE;
    SELECT c.id, c.direction, c."timestamp" INTO latest
    FROM checkins c
    WHERE c.member_id = member
    ORDER BY c."timestamp" DESC, c.created_at DESC, c.id DESC
    LIMIT 1;
    IF NOT FOUND THEN
        DELETE FROM member_presence WHERE member_id = member;
        RETURN;
    END IF;
    INSERT INTO member_presence AS p (member_id, direction, last_checkin_id, since)
    VALUES (member, latest.direction, latest.id, latest."timestamp")
    ON CONFLICT (member_id) DO UPDATE
        SET direction = EXCLUDED.direction,
            last_checkin_id = EXCLUDED.last_checkin_id,
            since = EXCLUDED.since,
            updated_at = now()
        WHERE (p.direction, p.last_checkin_id, p.since)
              IS DISTINCT FROM (EXCLUDED.direction, EXCLUDED.last_checkin_id, EXCLUDED.since);
END $$;

CREATE OR REPLACE FUNCTION checkins_maintain_presence() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- The previous owner first: a check-in moved to another member must leave its old presence row
    -- before it can become the new owner's latest (last_checkin_id is unique).
    IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND OLD.member_id <> NEW.member_id) THEN
        PERFORM refresh_member_presence(OLD.member_id);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM refresh_member_presence(NEW.member_id);
    END IF;
    RETURN NULL;
END $$;

-- The derivation itself, for verification and ad-hoc queries; must equal member_presence.
CREATE OR REPLACE VIEW member_presence_derived AS
SELECT DISTINCT ON (c.member_id)
       c.member_id, c.direction, c.id AS last_checkin_id, c."timestamp" AS since
FROM checkins c
ORDER BY c.member_id, c."timestamp" DESC, c.created_at DESC, c.id DESC;

-- Members present right now.
CREATE OR REPLACE VIEW present_members AS
SELECT m.id AS member_id, m.division_id, p.since, p.last_checkin_id
FROM member_presence p
JOIN members m ON m.id = p.member_id
WHERE p.direction = 'in' AND m.status = 'active';

-- Presence: the body of GET /api/checkins/presence and of `presence:update`.
CREATE OR REPLACE FUNCTION presence_figures() RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    result jsonb;
BEGIN
    WITH per_division AS (
        SELECT d.id, d.name, count(m.id) AS total, count(p.member_id) AS present
        FROM divisions d
        LEFT JOIN members m ON m.division_id = d.id AND m.status = 'active'
        LEFT JOIN member_presence p ON p.member_id = m.id AND p.direction = 'in'
        GROUP BY d.id, d.name
    )
    SELECT jsonb_build_object(
        'totalPresent', coalesce(sum(present), 0),
        'totalMembers', coalesce(sum(total), 0),
        'byDivision', coalesce(jsonb_agg(jsonb_build_object('divisionId', id, 'divisionName', name,
                                                           'present', present, 'total', total) ORDER BY name, id)
                               FILTER (WHERE id IS NOT NULL), '[]'::jsonb),
        'lastUpdated', iso(now()),
        'visitorsPresent', (SELECT count(*) FROM visitors WHERE check_out_time IS NULL))
    INTO result
    FROM per_division;
    RETURN result;
END $$;
