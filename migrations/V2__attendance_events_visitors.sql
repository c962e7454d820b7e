-- Check-ins and materialised presence (domain §5.2, §5.3), events (§6), visitors (§3.2).

-- ---------------------------------------------------------------------------------------------------------
-- Check-ins

CREATE TABLE checkins (
    id                 uuid        NOT NULL DEFAULT gen_random_uuid(),
    member_id          uuid        NOT NULL,
    badge_id           uuid,
    direction          text        NOT NULL,
    "timestamp"        timestamptz NOT NULL DEFAULT now(),
    kiosk_id           text        NOT NULL,
    synced             boolean     NOT NULL DEFAULT true,
    flagged_for_review boolean     NOT NULL DEFAULT false,
    flag_reason        text,
    method             text        NOT NULL DEFAULT 'badge',
    created_by_admin   uuid,
    created_at         timestamptz NOT NULL DEFAULT now(),
    client_ref         text,
    CONSTRAINT checkins_pkey PRIMARY KEY (id),
    CONSTRAINT checkins_direction_check CHECK (direction IN ('in', 'out')),
    CONSTRAINT checkins_kiosk_id_check CHECK (char_length(kiosk_id) BETWEEN 1 AND 50),
    CONSTRAINT checkins_flag_reason_check CHECK (char_length(flag_reason) <= 255),
    CONSTRAINT checkins_method_check CHECK (method IN ('badge', 'manual', 'override', 'lockup', 'system')),
    CONSTRAINT checkins_client_ref_check CHECK (char_length(client_ref) BETWEEN 1 AND 100),
    -- Idempotency key of offline kiosks (NULL client_ref never conflicts).
    CONSTRAINT checkins_kiosk_id_client_ref_key UNIQUE (kiosk_id, client_ref),
    CONSTRAINT checkins_member_id_fkey FOREIGN KEY (member_id) REFERENCES members (id) ON DELETE RESTRICT,
    CONSTRAINT checkins_badge_id_fkey FOREIGN KEY (badge_id) REFERENCES badges (id) ON DELETE RESTRICT,
    CONSTRAINT checkins_created_by_admin_fkey FOREIGN KEY (created_by_admin) REFERENCES users (id) ON DELETE SET NULL
);
-- (member_id, timestamp desc, created_at desc, id desc) is also the presence ordering (see below).
CREATE INDEX checkins_member_latest_idx ON checkins (member_id, "timestamp" DESC, created_at DESC, id DESC);
CREATE INDEX checkins_kiosk_id_timestamp_idx ON checkins (kiosk_id, "timestamp" DESC);
CREATE INDEX checkins_timestamp_idx ON checkins ("timestamp" DESC);
CREATE INDEX checkins_badge_id_idx ON checkins (badge_id);
CREATE INDEX checkins_method_idx ON checkins (method);
CREATE INDEX checkins_flagged_idx ON checkins ("timestamp" DESC) WHERE flagged_for_review;
CREATE INDEX checkins_created_by_admin_idx ON checkins (created_by_admin);

-- ---------------------------------------------------------------------------------------------------------
-- Presence materialisation. member_presence holds, for every member with at least one check-in, that
-- member's latest check-in: greatest "timestamp", ties broken by greatest created_at, then greatest id.
-- A member is present <=> members.status = 'active' AND member_presence.direction = 'in'
-- (view present_members). The trigger below keeps it equal to the derivation on every insert, update and
-- delete of check-ins, in the same transaction. Never write member_presence directly.

CREATE TABLE member_presence (
    member_id       uuid        NOT NULL,
    direction       text        NOT NULL,
    last_checkin_id uuid        NOT NULL,
    since           timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT member_presence_pkey PRIMARY KEY (member_id),
    CONSTRAINT member_presence_last_checkin_id_key UNIQUE (last_checkin_id),
    CONSTRAINT member_presence_direction_check CHECK (direction IN ('in', 'out')),
    CONSTRAINT member_presence_member_id_fkey FOREIGN KEY (member_id) REFERENCES members (id) ON DELETE CASCADE,
    -- Deferred: while a statement deletes the latest check-in, the row briefly points at it.
    CONSTRAINT member_presence_last_checkin_id_fkey FOREIGN KEY (last_checkin_id) REFERENCES checkins (id)
        DEFERRABLE INITIALLY DEFERRED
);
CREATE INDEX member_presence_in_idx ON member_presence (since DESC) WHERE direction = 'in';

CREATE FUNCTION refresh_member_presence(member uuid) RETURNS void
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

CREATE FUNCTION checkins_maintain_presence() RETURNS trigger
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
CREATE TRIGGER checkins_maintain_presence AFTER INSERT OR DELETE OR UPDATE OF member_id, direction, "timestamp", created_at
    ON checkins FOR EACH ROW EXECUTE FUNCTION checkins_maintain_presence();

-- The derivation itself (domain §5.3), for verification and ad-hoc queries; must equal member_presence.
CREATE VIEW member_presence_derived AS
SELECT DISTINCT ON (c.member_id)
       c.member_id, c.direction, c.id AS last_checkin_id, c."timestamp" AS since
FROM checkins c
ORDER BY c.member_id, c."timestamp" DESC, c.created_at DESC, c.id DESC;

-- Members present right now.
CREATE VIEW present_members AS
SELECT m.id AS member_id, m.division_id, p.since, p.last_checkin_id
FROM member_presence p
JOIN members m ON m.id = p.member_id
WHERE p.direction = 'in' AND m.status = 'active';

-- ---------------------------------------------------------------------------------------------------------
-- Events (domain §6)

CREATE TABLE events (
    id                 uuid        NOT NULL DEFAULT gen_random_uuid(),
    name               text        NOT NULL,
    code               text        NOT NULL,
    description        text,
    start_date         date        NOT NULL,
    end_date           date        NOT NULL,
    status             text        NOT NULL DEFAULT 'draft',
    auto_expire_badges boolean     NOT NULL DEFAULT true,
    custom_roles       jsonb,
    -- Creator (user id, or API key id for key-created rows); deliberately no FK (domain §6.1).
    created_by         uuid,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT events_pkey PRIMARY KEY (id),
    CONSTRAINT events_code_key UNIQUE (code),
    CONSTRAINT events_name_check CHECK (char_length(name) BETWEEN 1 AND 200),
    CONSTRAINT events_code_check CHECK (char_length(code) BETWEEN 1 AND 50),
    CONSTRAINT events_dates_check CHECK (end_date >= start_date),
    CONSTRAINT events_status_check CHECK (status IN ('draft', 'active', 'completed', 'cancelled')),
    CONSTRAINT events_custom_roles_check CHECK (jsonb_typeof(custom_roles) = 'object')
);
CREATE INDEX events_dates_idx ON events (start_date, end_date);
CREATE INDEX events_status_idx ON events (status);
CREATE TRIGGER events_set_updated_at BEFORE UPDATE ON events FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- Lifecycle (domain §6.1): draft -> active -> completed; draft|active -> cancelled; completed and cancelled
-- are terminal. Rewriting the same status is allowed (idempotent close).
CREATE FUNCTION events_check_transition() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status = OLD.status THEN
        RETURN NEW;
    END IF;
    IF (OLD.status, NEW.status) IN (('draft', 'active'), ('active', 'completed'),
                                    ('draft', 'cancelled'), ('active', 'cancelled')) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'event status cannot change from % to %', OLD.status, NEW.status
        USING ERRCODE = 'SN004', CONSTRAINT = 'invalid_transition', TABLE = 'events';
END $$;
CREATE TRIGGER events_check_transition BEFORE UPDATE OF status ON events
    FOR EACH ROW EXECUTE FUNCTION events_check_transition();

CREATE TABLE event_attendees (
    id                uuid        NOT NULL DEFAULT gen_random_uuid(),
    event_id          uuid        NOT NULL,
    name              text        NOT NULL,
    rank              text,
    organization      text        NOT NULL,
    role              text        NOT NULL,
    badge_id          uuid,
    badge_assigned_at timestamptz,
    access_start      date,
    access_end        date,
    status            text        NOT NULL DEFAULT 'pending',
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT event_attendees_pkey PRIMARY KEY (id),
    CONSTRAINT event_attendees_name_check CHECK (char_length(name) BETWEEN 1 AND 200),
    CONSTRAINT event_attendees_rank_check CHECK (char_length(rank) <= 50),
    CONSTRAINT event_attendees_organization_check CHECK (char_length(organization) BETWEEN 1 AND 200),
    CONSTRAINT event_attendees_role_check CHECK (char_length(role) BETWEEN 1 AND 100),
    CONSTRAINT event_attendees_status_check CHECK (status IN ('pending', 'approved', 'denied', 'checked_in', 'expired')),
    -- badgeAssignedAt is set with the badge and cleared with it.
    CONSTRAINT event_attendees_badge_assigned_at_check CHECK (badge_assigned_at IS NULL OR badge_id IS NOT NULL),
    CONSTRAINT event_attendees_event_id_fkey FOREIGN KEY (event_id) REFERENCES events (id) ON DELETE CASCADE,
    CONSTRAINT event_attendees_badge_id_fkey FOREIGN KEY (badge_id) REFERENCES badges (id) ON DELETE NO ACTION
);
CREATE INDEX event_attendees_event_id_idx ON event_attendees (event_id, name);
CREATE INDEX event_attendees_badge_id_idx ON event_attendees (badge_id);
CREATE INDEX event_attendees_status_idx ON event_attendees (status);
CREATE TRIGGER event_attendees_set_updated_at BEFORE UPDATE ON event_attendees
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE event_checkins (
    id                uuid        NOT NULL DEFAULT gen_random_uuid(),
    event_attendee_id uuid        NOT NULL,
    badge_id          uuid        NOT NULL,
    direction         text        NOT NULL,
    "timestamp"       timestamptz NOT NULL DEFAULT now(),
    kiosk_id          text        NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT event_checkins_pkey PRIMARY KEY (id),
    CONSTRAINT event_checkins_direction_check CHECK (direction IN ('in', 'out')),
    CONSTRAINT event_checkins_kiosk_id_check CHECK (char_length(kiosk_id) BETWEEN 1 AND 50),
    CONSTRAINT event_checkins_event_attendee_id_fkey FOREIGN KEY (event_attendee_id)
        REFERENCES event_attendees (id) ON DELETE CASCADE,
    CONSTRAINT event_checkins_badge_id_fkey FOREIGN KEY (badge_id) REFERENCES badges (id) ON DELETE NO ACTION
);
CREATE INDEX event_checkins_attendee_timestamp_idx ON event_checkins (event_attendee_id, "timestamp" DESC, created_at DESC);
CREATE INDEX event_checkins_badge_id_idx ON event_checkins (badge_id);
CREATE INDEX event_checkins_kiosk_id_timestamp_idx ON event_checkins (kiosk_id, "timestamp" DESC);
CREATE INDEX event_checkins_timestamp_idx ON event_checkins ("timestamp" DESC);

-- ---------------------------------------------------------------------------------------------------------
-- Visitors (domain §3.2)

CREATE TABLE visitors (
    id                 uuid        NOT NULL DEFAULT gen_random_uuid(),
    name               text        NOT NULL,
    organization       text,
    visit_type         text        NOT NULL,
    visit_reason       text,
    event_id           uuid,
    host_member_id     uuid,
    check_in_time      timestamptz NOT NULL DEFAULT now(),
    check_out_time     timestamptz,
    temporary_badge_id uuid,
    kiosk_id           text        NOT NULL,
    admin_notes        text,
    check_in_method    text        NOT NULL DEFAULT 'kiosk',
    created_by_admin   uuid,
    -- later additions (domain §3.2)
    rank_prefix        text,
    first_name         text,
    last_name          text,
    display_name       text,
    unit               text,
    mobile_phone       text,
    license_plate      text,
    visit_purpose      text,
    purpose_details    text,
    recruitment_step   text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT visitors_pkey PRIMARY KEY (id),
    CONSTRAINT visitors_name_check CHECK (char_length(name) BETWEEN 1 AND 200),
    CONSTRAINT visitors_organization_check CHECK (char_length(organization) <= 200),
    CONSTRAINT visitors_kiosk_id_check CHECK (char_length(kiosk_id) BETWEEN 1 AND 50),
    CONSTRAINT visitors_check_in_method_check CHECK (check_in_method IN ('kiosk', 'admin_manual')),
    -- null check_out_time <=> on site; a visit never ends before it starts.
    CONSTRAINT visitors_check_out_time_check CHECK (check_out_time >= check_in_time),
    CONSTRAINT visitors_rank_prefix_check CHECK (char_length(rank_prefix) <= 50),
    CONSTRAINT visitors_first_name_check CHECK (char_length(first_name) <= 100),
    CONSTRAINT visitors_last_name_check CHECK (char_length(last_name) <= 100),
    CONSTRAINT visitors_display_name_check CHECK (char_length(display_name) <= 200),
    CONSTRAINT visitors_unit_check CHECK (char_length(unit) <= 200),
    CONSTRAINT visitors_mobile_phone_check CHECK (char_length(mobile_phone) <= 25),
    CONSTRAINT visitors_license_plate_check CHECK (char_length(license_plate) <= 20),
    CONSTRAINT visitors_visit_purpose_check CHECK (char_length(visit_purpose) <= 50),
    CONSTRAINT visitors_recruitment_step_check CHECK (char_length(recruitment_step) <= 50),
    CONSTRAINT visitors_visit_type_fkey FOREIGN KEY (visit_type) REFERENCES visit_types (code)
        ON UPDATE CASCADE ON DELETE RESTRICT,
    CONSTRAINT visitors_event_id_fkey FOREIGN KEY (event_id) REFERENCES events (id) ON DELETE SET NULL,
    CONSTRAINT visitors_host_member_id_fkey FOREIGN KEY (host_member_id) REFERENCES members (id) ON DELETE NO ACTION,
    CONSTRAINT visitors_temporary_badge_id_fkey FOREIGN KEY (temporary_badge_id) REFERENCES badges (id)
        ON DELETE NO ACTION,
    CONSTRAINT visitors_created_by_admin_fkey FOREIGN KEY (created_by_admin) REFERENCES users (id) ON DELETE SET NULL
);
CREATE INDEX visitors_check_in_time_idx ON visitors (check_in_time DESC);
CREATE INDEX visitors_check_out_time_idx ON visitors (check_out_time);
CREATE INDEX visitors_on_site_idx ON visitors (check_in_time DESC) WHERE check_out_time IS NULL;
CREATE INDEX visitors_event_id_idx ON visitors (event_id);
CREATE INDEX visitors_host_member_id_idx ON visitors (host_member_id);
CREATE INDEX visitors_check_in_method_idx ON visitors (check_in_method);
CREATE INDEX visitors_temporary_badge_id_idx ON visitors (temporary_badge_id);
CREATE INDEX visitors_visit_type_idx ON visitors (visit_type);
