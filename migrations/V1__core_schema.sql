-- Sentinel core schema: helper functions, lookups, ranks, divisions, badges, members, users.
--
-- Conventions (all migrations):
--   * ids are uuid DEFAULT gen_random_uuid(); instants are timestamptz (UTC); read them through iso().
--   * text columns mirror the spec's str(n) with CHECK (char_length(..) <= n) (and >= 1 where the spec says 1–n).
--   * constraints carry explicit names (<table>_<what>_key / _check / _fkey) so the API can map them.
--   * invariants the database cannot express as a plain constraint are raised by triggers with SQLSTATEs of
--     the private class 'SN' and the CONSTRAINT field set:
--       SN001 system_value          — protected lookup row / system tag (API 409 SYSTEM_VALUE)
--       SN002 badge_linkage         — member <-> badge link inconsistent at commit (API bug; 409/500)
--       SN003 badge_not_assignable  — badge assigned while not active+unassigned (API 409/400)
--       SN004 invalid_transition    — event/alert lifecycle violated (API 409 INVALID_TRANSITION / 400)
--       SN005 append_only           — history rows updated or deleted (API 409)

-- ---------------------------------------------------------------------------------------------------------
-- Helper functions

-- ISO-8601 UTC with milliseconds, e.g. 2026-01-23T16:56:39.000Z; NULL for NULL (STRICT).
-- Declared IMMUTABLE: the pattern has no locale- or session-dependent parts.
CREATE FUNCTION iso(ts timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') $$;

-- Dates are returned by the API as midnight UTC timestamps (api.md §0.1).
CREATE FUNCTION iso_date(d date) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT to_char(d, 'YYYY-MM-DD') || 'T00:00:00.000Z' $$;

-- Operational day (domain §0): the local calendar day in the unit timezone, shifted so that a duty night
-- running past midnight stays on the day it started until the rollover time.
CREATE FUNCTION operational_date(
    at timestamptz,
    unit_timezone text DEFAULT 'America/Winnipeg',
    rollover interval DEFAULT interval '03:00'
) RETURNS date
LANGUAGE sql STABLE STRICT PARALLEL SAFE
AS $$ SELECT ((at AT TIME ZONE unit_timezone) - rollover)::date $$;

CREATE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END $$;

-- ---------------------------------------------------------------------------------------------------------
-- Lookups (domain §4.1). Other tables store the lookup *code* with an FK to it (single source of truth);
-- the lookup id is derived by joining on code.

CREATE FUNCTION protect_system_lookup() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.is_system THEN
            RAISE EXCEPTION 'system value "%" in % cannot be deleted', OLD.code, TG_TABLE_NAME
                USING ERRCODE = 'SN001', CONSTRAINT = 'system_value', TABLE = TG_TABLE_NAME;
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.is_system AND (NEW.code IS DISTINCT FROM OLD.code OR NOT NEW.is_system) THEN
        RAISE EXCEPTION 'system value "%" in % cannot be re-coded', OLD.code, TG_TABLE_NAME
            USING ERRCODE = 'SN001', CONSTRAINT = 'system_value', TABLE = TG_TABLE_NAME;
    END IF;
    IF NOT OLD.is_system AND NEW.is_system THEN
        RAISE EXCEPTION 'rows of % cannot be made system values', TG_TABLE_NAME
            USING ERRCODE = 'SN001', CONSTRAINT = 'system_value', TABLE = TG_TABLE_NAME;
    END IF;
    RETURN NEW;
END $$;

DO $$
DECLARE
    lookup text;
BEGIN
    FOREACH lookup IN ARRAY ARRAY['member_types', 'member_statuses', 'visit_types', 'badge_statuses'] LOOP
        EXECUTE format($f$
            CREATE TABLE %1$I (
                id          uuid        NOT NULL DEFAULT gen_random_uuid(),
                code        text        NOT NULL,
                name        text        NOT NULL,
                description text,
                color       text,
                is_system   boolean     NOT NULL DEFAULT false,
                created_at  timestamptz NOT NULL DEFAULT now(),
                updated_at  timestamptz NOT NULL DEFAULT now(),
                CONSTRAINT %1$s_pkey PRIMARY KEY (id),
                CONSTRAINT %1$s_code_key UNIQUE (code),
                CONSTRAINT %1$s_code_check CHECK (code ~ '^[a-z0-9_]{1,50}$'),
                CONSTRAINT %1$s_name_check CHECK (char_length(name) BETWEEN 1 AND 100),
                CONSTRAINT %1$s_color_check CHECK (char_length(color) <= 50)
            );
            CREATE TRIGGER %1$s_set_updated_at BEFORE UPDATE ON %1$I
                FOR EACH ROW EXECUTE FUNCTION set_updated_at();
            CREATE TRIGGER %1$s_protect_system BEFORE UPDATE OR DELETE ON %1$I
                FOR EACH ROW EXECUTE FUNCTION protect_system_lookup();
        $f$, lookup);
    END LOOP;
END $$;

-- System rows are the codes that business rules or defaults refer to.
INSERT INTO member_statuses (code, name, description, color, is_system) VALUES
    ('active',         'Active',         'Currently serving; counted for presence', 'success', true),
    ('inactive',       'Inactive',       'Soft-deleted or no longer parading',      'default', true),
    ('leave',          'On Leave',       'Temporarily absent on leave',            'warning', true),
    ('transferred',    'Transferred',    'Posted to another unit',                 'default', false),
    ('retired',        'Retired',        'Released from service',                  'default', false),
    ('pending_review', 'Pending Review', 'Record awaiting administrative review',  'warning', false);

INSERT INTO member_types (code, name, description, is_system) VALUES
    ('class_a',   'Class A Reserve', 'Part-time reserve service (default)', true),
    ('class_b',   'Class B Reserve', 'Full-time reserve service',            false),
    ('class_c',   'Class C Reserve', 'Reserve service on operations',       false),
    ('reg_force', 'Regular Force',   'Regular Force member',                 false);

INSERT INTO visit_types (code, name, description) VALUES
    ('contractor', 'Contractor', 'Contractor or tradesperson'),
    ('guest',      'Guest',      'Personal or family guest'),
    ('official',   'Official',   'Official visit'),
    ('other',      'Other',      'Any other visit');

INSERT INTO badge_statuses (code, name, description, color, is_system) VALUES
    ('active',   'Active',   'Usable badge',                          'success', true),
    ('inactive', 'Inactive', 'Returned or retired; never assigned',   'default', true),
    ('lost',     'Lost',     'Reported lost; keeps its last holder',  'danger',  true),
    ('damaged',  'Damaged',  'Damaged; keeps its last holder',        'warning', true);

-- ---------------------------------------------------------------------------------------------------------
-- Ranks (domain §4.3). members.rank references ranks(code), which validates ranks while keeping the
-- deprecated OS/AB/LS codes valid (they point at their replacements).

CREATE TABLE ranks (
    id            uuid        NOT NULL DEFAULT gen_random_uuid(),
    code          text        NOT NULL,
    name          text        NOT NULL,
    branch        text        NOT NULL,
    category      text        NOT NULL,
    display_order integer     NOT NULL DEFAULT 0,
    is_active     boolean     NOT NULL DEFAULT true,
    replaced_by   uuid,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT ranks_pkey PRIMARY KEY (id),
    CONSTRAINT ranks_code_key UNIQUE (code),
    CONSTRAINT ranks_code_check CHECK (char_length(code) BETWEEN 1 AND 10 AND code = btrim(code)),
    CONSTRAINT ranks_name_check CHECK (char_length(name) BETWEEN 1 AND 100),
    CONSTRAINT ranks_branch_check CHECK (branch IN ('navy', 'army', 'air_force')),
    CONSTRAINT ranks_category_check CHECK (category IN
        ('junior_ncm', 'senior_ncm', 'junior_officer', 'senior_officer', 'general_officer')),
    CONSTRAINT ranks_replaced_by_fkey FOREIGN KEY (replaced_by) REFERENCES ranks (id) ON DELETE SET NULL,
    CONSTRAINT ranks_replaced_by_check CHECK (replaced_by IS DISTINCT FROM id)
);
-- Case-insensitive lookups ("lt(n)") resolve to exactly one rank.
CREATE UNIQUE INDEX ranks_code_lower_key ON ranks (lower(code));
CREATE INDEX ranks_branch_order_idx ON ranks (branch, display_order);
CREATE TRIGGER ranks_set_updated_at BEFORE UPDATE ON ranks FOR EACH ROW EXECUTE FUNCTION set_updated_at();

INSERT INTO ranks (code, name, branch, category, display_order) VALUES
    ('S3',      'Sailor Third Class',        'navy', 'junior_ncm',      10),
    ('S2',      'Sailor Second Class',       'navy', 'junior_ncm',      20),
    ('S1',      'Sailor First Class',        'navy', 'junior_ncm',      30),
    ('MS',      'Master Sailor',             'navy', 'junior_ncm',      40),
    ('PO2',     'Petty Officer 2nd Class',   'navy', 'senior_ncm',      50),
    ('PO1',     'Petty Officer 1st Class',   'navy', 'senior_ncm',      60),
    ('CPO2',    'Chief Petty Officer 2nd Class', 'navy', 'senior_ncm',  70),
    ('CPO1',    'Chief Petty Officer 1st Class', 'navy', 'senior_ncm',  80),
    ('NCdt',    'Naval Cadet',               'navy', 'junior_officer',  90),
    ('A/SLt',   'Acting Sub-Lieutenant',     'navy', 'junior_officer', 100),
    ('SLt',     'Sub-Lieutenant',            'navy', 'junior_officer', 110),
    ('Lt(N)',   'Lieutenant (Navy)',         'navy', 'junior_officer', 120),
    ('LCdr',    'Lieutenant-Commander',      'navy', 'senior_officer', 130),
    ('Cdr',     'Commander',                 'navy', 'senior_officer', 140),
    ('Capt(N)', 'Captain (Navy)',            'navy', 'senior_officer', 150),
    ('Cmdre',   'Commodore',                 'navy', 'general_officer', 160),
    ('RAdm',    'Rear-Admiral',              'navy', 'general_officer', 170),
    ('VAdm',    'Vice-Admiral',              'navy', 'general_officer', 180),
    ('Adm',     'Admiral',                   'navy', 'general_officer', 190),
    -- Army (Air Force ranks share these abbreviations, so one row serves both; codes are unique).
    ('Pte',     'Private',                   'army', 'junior_ncm',      10),
    ('Cpl',     'Corporal',                  'army', 'junior_ncm',      20),
    ('MCpl',    'Master Corporal',           'army', 'junior_ncm',      30),
    ('Sgt',     'Sergeant',                  'army', 'senior_ncm',      40),
    ('WO',      'Warrant Officer',           'army', 'senior_ncm',      50),
    ('MWO',     'Master Warrant Officer',    'army', 'senior_ncm',      60),
    ('CWO',     'Chief Warrant Officer',     'army', 'senior_ncm',      70),
    ('OCdt',    'Officer Cadet',             'army', 'junior_officer',  80),
    ('2Lt',     'Second Lieutenant',         'army', 'junior_officer',  90),
    ('Lt',      'Lieutenant',                'army', 'junior_officer', 100),
    ('Capt',    'Captain',                   'army', 'junior_officer', 110),
    ('Maj',     'Major',                     'army', 'senior_officer', 120),
    ('LCol',    'Lieutenant-Colonel',        'army', 'senior_officer', 130),
    ('Col',     'Colonel',                   'army', 'senior_officer', 140),
    ('BGen',    'Brigadier-General',         'army', 'general_officer', 150),
    ('MGen',    'Major-General',             'army', 'general_officer', 160),
    ('LGen',    'Lieutenant-General',        'army', 'general_officer', 170),
    ('Gen',     'General',                   'army', 'general_officer', 180),
    -- Air Force only: Aviator replaces Private.
    ('Avr',     'Aviator',                   'air_force', 'junior_ncm', 10);

-- Pre-2020 naval titles, kept valid for compatibility and pointing at their replacements.
INSERT INTO ranks (code, name, branch, category, display_order, is_active, replaced_by)
SELECT v.code, v.name, 'navy', 'junior_ncm', v.display_order, false, r.id
FROM (VALUES ('OS', 'Ordinary Seaman', 10, 'S3'),
             ('AB', 'Able Seaman',     20, 'S2'),
             ('LS', 'Leading Seaman',  30, 'S1')) AS v (code, name, display_order, replacement)
JOIN ranks r ON r.code = v.replacement;

-- ---------------------------------------------------------------------------------------------------------
-- Divisions (domain §2.1)

CREATE TABLE divisions (
    id          uuid        NOT NULL DEFAULT gen_random_uuid(),
    code        text        NOT NULL,
    name        text        NOT NULL,
    description text,
    color       text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT divisions_pkey PRIMARY KEY (id),
    CONSTRAINT divisions_code_key UNIQUE (code),
    CONSTRAINT divisions_code_check CHECK (char_length(code) BETWEEN 1 AND 20 AND code = upper(code)),
    CONSTRAINT divisions_name_check CHECK (char_length(name) BETWEEN 1 AND 100),
    CONSTRAINT divisions_color_check CHECK (color ~ '^#[0-9A-Fa-f]{6}$')
);
CREATE INDEX divisions_name_idx ON divisions (name);
CREATE TRIGGER divisions_set_updated_at BEFORE UPDATE ON divisions FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- ---------------------------------------------------------------------------------------------------------
-- Badges (domain §5.1)

CREATE TABLE badges (
    id              uuid        NOT NULL DEFAULT gen_random_uuid(),
    serial_number   text        NOT NULL,
    assignment_type text        NOT NULL DEFAULT 'unassigned',
    assigned_to_id  uuid,
    status          text        NOT NULL DEFAULT 'active',
    last_used       timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT badges_pkey PRIMARY KEY (id),
    CONSTRAINT badges_serial_number_key UNIQUE (serial_number),
    -- Serials are stored normalised: trimmed and upper-cased (domain §0).
    CONSTRAINT badges_serial_number_check CHECK (
        char_length(serial_number) BETWEEN 1 AND 100
        AND serial_number = upper(btrim(serial_number, E' \t\r\n\f\v'))),
    CONSTRAINT badges_assignment_type_check CHECK (assignment_type IN ('member', 'visitor', 'event', 'unassigned')),
    -- Invariant 1: unassigned <=> no holder.
    CONSTRAINT badges_holder_check CHECK ((assignment_type = 'unassigned') = (assigned_to_id IS NULL)),
    -- Invariant 4: a returned (inactive) badge has no holder.
    CONSTRAINT badges_inactive_unassigned_check CHECK (status <> 'inactive' OR assignment_type = 'unassigned'),
    CONSTRAINT badges_status_fkey FOREIGN KEY (status) REFERENCES badge_statuses (code)
        ON UPDATE CASCADE ON DELETE RESTRICT
);
CREATE INDEX badges_assigned_to_id_idx ON badges (assigned_to_id);
CREATE INDEX badges_status_idx ON badges (status);
CREATE INDEX badges_assignment_type_idx ON badges (assignment_type);
-- A member holds at most one member badge.
CREATE UNIQUE INDEX badges_member_holder_key ON badges (assigned_to_id) WHERE assignment_type = 'member';
-- Case-insensitive substring search on serials.
CREATE INDEX badges_serial_number_pattern_idx ON badges (serial_number text_pattern_ops);
CREATE TRIGGER badges_set_updated_at BEFORE UPDATE ON badges FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- Invariant 3: a badge can be newly assigned (to a member, visitor or event attendee) only while it is
-- active and unassigned. Re-writing the same holder is not a new assignment.
CREATE FUNCTION badges_check_assignable() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.assignment_type = 'unassigned' THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'UPDATE'
       AND NEW.assignment_type = OLD.assignment_type AND NEW.assigned_to_id = OLD.assigned_to_id THEN
        RETURN NEW;
    END IF;
    IF NEW.status <> 'active' THEN
        RAISE EXCEPTION 'badge % is not active (status %)', NEW.serial_number, NEW.status
            USING ERRCODE = 'SN003', CONSTRAINT = 'badge_not_assignable', TABLE = 'badges';
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.assignment_type <> 'unassigned' THEN
        RAISE EXCEPTION 'badge % is already assigned', NEW.serial_number
            USING ERRCODE = 'SN003', CONSTRAINT = 'badge_not_assignable', TABLE = 'badges';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER badges_check_assignable BEFORE INSERT OR UPDATE ON badges
    FOR EACH ROW EXECUTE FUNCTION badges_check_assignable();

-- ---------------------------------------------------------------------------------------------------------
-- Members (domain §3.1)

CREATE TABLE members (
    id                   uuid        NOT NULL DEFAULT gen_random_uuid(),
    service_number       text        NOT NULL,
    rank                 text        NOT NULL,
    first_name           text        NOT NULL,
    last_name            text        NOT NULL,
    initials             text,
    email                text,
    mobile_phone         text,
    home_phone           text,
    division_id          uuid        NOT NULL,
    badge_id             uuid,
    member_type          text        NOT NULL DEFAULT 'class_a',
    status               text        NOT NULL DEFAULT 'active',
    employee_number      text,
    mess                 text,
    moc                  text,
    class_details        text,
    notes                text,
    contract_start       date,
    contract_end         date,
    -- later additions (domain §3.1)
    display_name         text,
    member_source        text        NOT NULL DEFAULT 'nominal_roll',
    missed_checkout_count integer    NOT NULL DEFAULT 0,
    last_missed_checkout timestamptz,
    pin_hash             text,
    must_change_pin      boolean     NOT NULL DEFAULT false,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT members_pkey PRIMARY KEY (id),
    CONSTRAINT members_service_number_key UNIQUE (service_number),
    CONSTRAINT members_badge_id_key UNIQUE (badge_id),
    CONSTRAINT members_service_number_check CHECK (char_length(service_number) BETWEEN 1 AND 20),
    CONSTRAINT members_rank_check CHECK (char_length(rank) BETWEEN 1 AND 50),
    CONSTRAINT members_first_name_check CHECK (char_length(first_name) BETWEEN 1 AND 100),
    CONSTRAINT members_last_name_check CHECK (char_length(last_name) BETWEEN 1 AND 100),
    CONSTRAINT members_initials_check CHECK (char_length(initials) <= 10),
    CONSTRAINT members_email_check CHECK (char_length(email) <= 255 AND email ~ '^[^@[:space:]]+@[^@[:space:]]+$'),
    CONSTRAINT members_mobile_phone_check CHECK (char_length(mobile_phone) <= 50),
    CONSTRAINT members_home_phone_check CHECK (char_length(home_phone) <= 30),
    CONSTRAINT members_employee_number_check CHECK (char_length(employee_number) <= 20),
    CONSTRAINT members_mess_check CHECK (char_length(mess) <= 50),
    CONSTRAINT members_moc_check CHECK (char_length(moc) <= 100),
    CONSTRAINT members_class_details_check CHECK (char_length(class_details) <= 100),
    CONSTRAINT members_display_name_check CHECK (char_length(display_name) <= 200),
    CONSTRAINT members_member_source_check CHECK (char_length(member_source) BETWEEN 1 AND 50),
    CONSTRAINT members_missed_checkout_count_check CHECK (missed_checkout_count >= 0),
    CONSTRAINT members_pin_hash_check CHECK (char_length(pin_hash) <= 255),
    CONSTRAINT members_rank_fkey FOREIGN KEY (rank) REFERENCES ranks (code) ON UPDATE CASCADE ON DELETE RESTRICT,
    CONSTRAINT members_division_id_fkey FOREIGN KEY (division_id) REFERENCES divisions (id) ON DELETE RESTRICT,
    CONSTRAINT members_badge_id_fkey FOREIGN KEY (badge_id) REFERENCES badges (id) ON DELETE SET NULL,
    CONSTRAINT members_member_type_fkey FOREIGN KEY (member_type) REFERENCES member_types (code)
        ON UPDATE CASCADE ON DELETE RESTRICT,
    CONSTRAINT members_status_fkey FOREIGN KEY (status) REFERENCES member_statuses (code)
        ON UPDATE CASCADE ON DELETE RESTRICT
);
CREATE INDEX members_division_id_idx ON members (division_id);
CREATE INDEX members_status_idx ON members (status);
CREATE INDEX members_member_type_idx ON members (member_type);
CREATE INDEX members_rank_idx ON members (rank);
CREATE INDEX members_email_idx ON members (email);
CREATE INDEX members_mess_idx ON members (mess);
CREATE INDEX members_moc_idx ON members (moc);
CREATE INDEX members_employee_number_idx ON members (employee_number);
CREATE INDEX members_name_idx ON members (last_name, first_name);
CREATE INDEX members_contract_end_idx ON members (contract_end);
CREATE TRIGGER members_set_updated_at BEFORE UPDATE ON members FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- ---------------------------------------------------------------------------------------------------------
-- Badge linkage (domain §5.1 invariant 2), checked at commit so both sides can be written in one
-- transaction (or one statement) in either order:
--   badge.assignment_type = 'member'  =>  the member assigned_to_id exists and has badge_id = badge.id
--   member.badge_id = b               =>  badge b has assignment_type 'member' and assigned_to_id = member.id
-- Each check re-reads the current rows, so intermediate states inside the transaction are fine.

CREATE FUNCTION check_member_badge_link(badge uuid, member uuid) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    b badges%ROWTYPE;
    holder_badge uuid;
BEGIN
    IF badge IS NOT NULL THEN
        SELECT * INTO b FROM badges WHERE id = badge;
        IF FOUND THEN
            IF b.assignment_type = 'member' THEN
                SELECT m.badge_id INTO holder_badge FROM members m WHERE m.id = b.assigned_to_id;
                IF holder_badge IS DISTINCT FROM b.id THEN
                    RAISE EXCEPTION 'badge % is assigned to member % but that member does not point back at it',
                        b.serial_number, b.assigned_to_id
                        USING ERRCODE = 'SN002', CONSTRAINT = 'badge_linkage', TABLE = 'badges';
                END IF;
            END IF;
            IF EXISTS (SELECT 1 FROM members m WHERE m.badge_id = b.id
                       AND (b.assignment_type <> 'member' OR m.id <> b.assigned_to_id)) THEN
                RAISE EXCEPTION 'a member points at badge % which is not assigned to them', b.serial_number
                    USING ERRCODE = 'SN002', CONSTRAINT = 'badge_linkage', TABLE = 'members';
            END IF;
        END IF;
    END IF;
    IF member IS NOT NULL THEN
        -- A member badge must not outlive or lose its member's back-reference.
        IF EXISTS (SELECT 1 FROM badges x
                   WHERE x.assignment_type = 'member' AND x.assigned_to_id = member
                     AND NOT EXISTS (SELECT 1 FROM members m WHERE m.id = member AND m.badge_id = x.id)) THEN
            RAISE EXCEPTION 'member % holds a member badge but does not point at it', member
                USING ERRCODE = 'SN002', CONSTRAINT = 'badge_linkage', TABLE = 'members';
        END IF;
    END IF;
END $$;

CREATE FUNCTION badges_check_link() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM check_member_badge_link(NULL, CASE WHEN OLD.assignment_type = 'member' THEN OLD.assigned_to_id END);
        RETURN NULL;
    END IF;
    PERFORM check_member_badge_link(NEW.id, NULL);
    IF TG_OP = 'UPDATE' AND OLD.assignment_type = 'member' THEN
        -- The previous holder must have dropped the reference too.
        -- (A member still pointing at this badge is caught by the check of NEW.id above.)
        PERFORM check_member_badge_link(NULL, OLD.assigned_to_id);
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER badges_member_link AFTER INSERT OR UPDATE OR DELETE ON badges
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION badges_check_link();

CREATE FUNCTION members_check_link() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM check_member_badge_link(NULL, OLD.id);
        RETURN NULL;
    END IF;
    PERFORM check_member_badge_link(NEW.badge_id, NEW.id);
    IF TG_OP = 'UPDATE' AND OLD.badge_id IS DISTINCT FROM NEW.badge_id THEN
        PERFORM check_member_badge_link(OLD.badge_id, NULL);
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER members_badge_link AFTER INSERT OR UPDATE OF badge_id OR DELETE ON members
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION members_check_link();

-- ---------------------------------------------------------------------------------------------------------
-- Users (domain §8.3): the single account table. Defined here because most "created/assigned by" columns
-- reference it.

CREATE TABLE users (
    id            uuid        NOT NULL DEFAULT gen_random_uuid(),
    email         text        NOT NULL,
    username      text,
    display_name  text        NOT NULL,
    first_name    text,
    last_name     text,
    password_hash text        NOT NULL,
    role          text        NOT NULL DEFAULT 'quartermaster',
    member_id     uuid,
    disabled      boolean     NOT NULL DEFAULT false,
    disabled_at   timestamptz,
    disabled_by   uuid,
    last_login_at timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    updated_by    uuid,
    CONSTRAINT users_pkey PRIMARY KEY (id),
    CONSTRAINT users_member_id_key UNIQUE (member_id),
    CONSTRAINT users_email_check CHECK (char_length(email) <= 255 AND email ~ '^[^@[:space:]]+@[^@[:space:]]+$'),
    CONSTRAINT users_username_check CHECK (username ~ '^[A-Za-z0-9_-]{3,100}$'),
    CONSTRAINT users_display_name_check CHECK (char_length(display_name) BETWEEN 1 AND 200),
    CONSTRAINT users_first_name_check CHECK (char_length(first_name) <= 100),
    CONSTRAINT users_last_name_check CHECK (char_length(last_name) <= 100),
    CONSTRAINT users_password_hash_check CHECK (char_length(password_hash) BETWEEN 1 AND 255),
    CONSTRAINT users_role_check CHECK (role IN ('developer', 'admin', 'executive', 'duty_watch', 'quartermaster')),
    CONSTRAINT users_disabled_at_check CHECK (disabled = (disabled_at IS NOT NULL)),
    CONSTRAINT users_disabled_by_check CHECK (disabled OR disabled_by IS NULL),
    CONSTRAINT users_member_id_fkey FOREIGN KEY (member_id) REFERENCES members (id) ON DELETE SET NULL,
    CONSTRAINT users_disabled_by_fkey FOREIGN KEY (disabled_by) REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT users_updated_by_fkey FOREIGN KEY (updated_by) REFERENCES users (id) ON DELETE SET NULL
);
-- E-mail and username are unique case-insensitively; look them up with lower(...) = lower($1).
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE UNIQUE INDEX users_username_key ON users (lower(username));
CREATE INDEX users_role_idx ON users (role);
CREATE INDEX users_disabled_idx ON users (disabled);
CREATE TRIGGER users_set_updated_at BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION set_updated_at();
