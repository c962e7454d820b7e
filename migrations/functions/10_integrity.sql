-- Invariants the schema enforces with triggers (system values, badge assignment and linkage, lifecycles, append-only history).
-- Every error raised here opens its message with `[<SQLSTATE> <constraint>]`: Spin 3.6 passes an error
-- raised inside a query on as bare text, and the tag is how the database port still classifies it (docs/spin.md).
-- Replaceable objects: applied after the versioned migrations whenever this file changes (docs/database.md).

CREATE OR REPLACE FUNCTION protect_system_lookup() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.is_system THEN
            RAISE EXCEPTION '[SN001 system_value] system value "%" in % cannot be deleted', OLD.code, TG_TABLE_NAME
                USING ERRCODE = 'SN001', CONSTRAINT = 'system_value', TABLE = TG_TABLE_NAME;
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.is_system AND (NEW.code IS DISTINCT FROM OLD.code OR NOT NEW.is_system) THEN
        RAISE EXCEPTION '[SN001 system_value] system value "%" in % cannot be re-coded', OLD.code, TG_TABLE_NAME
            USING ERRCODE = 'SN001', CONSTRAINT = 'system_value', TABLE = TG_TABLE_NAME;
    END IF;
    IF NOT OLD.is_system AND NEW.is_system THEN
        RAISE EXCEPTION '[SN001 system_value] rows of % cannot be made system values', TG_TABLE_NAME
            USING ERRCODE = 'SN001', CONSTRAINT = 'system_value', TABLE = TG_TABLE_NAME;
    END IF;
    RETURN NEW;
END $$;

-- Invariant 3: a badge can be newly assigned (to a member, visitor or event attendee) only while it is
-- active and unassigned. Re-writing the same holder is not a new assignment.
CREATE OR REPLACE FUNCTION badges_check_assignable() RETURNS trigger
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
        RAISE EXCEPTION '[SN003 badge_not_assignable] badge % is not active (status %)', NEW.serial_number, NEW.status
            USING ERRCODE = 'SN003', CONSTRAINT = 'badge_not_assignable', TABLE = 'badges';
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.assignment_type <> 'unassigned' THEN
        RAISE EXCEPTION '[SN003 badge_not_assignable] badge % is already assigned', NEW.serial_number
            USING ERRCODE = 'SN003', CONSTRAINT = 'badge_not_assignable', TABLE = 'badges';
    END IF;
    RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION check_member_badge_link(badge uuid, member uuid) RETURNS void
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
                    RAISE EXCEPTION '[SN002 badge_linkage] badge % is assigned to member % but that member does not point back at it',
                        b.serial_number, b.assigned_to_id
                        USING ERRCODE = 'SN002', CONSTRAINT = 'badge_linkage', TABLE = 'badges';
                END IF;
            END IF;
            IF EXISTS (SELECT 1 FROM members m WHERE m.badge_id = b.id
                       AND (b.assignment_type <> 'member' OR m.id <> b.assigned_to_id)) THEN
                RAISE EXCEPTION '[SN002 badge_linkage] a member points at badge % which is not assigned to them', b.serial_number
                    USING ERRCODE = 'SN002', CONSTRAINT = 'badge_linkage', TABLE = 'members';
            END IF;
        END IF;
    END IF;
    IF member IS NOT NULL THEN
        -- A member badge must not outlive or lose its member's back-reference.
        IF EXISTS (SELECT 1 FROM badges x
                   WHERE x.assignment_type = 'member' AND x.assigned_to_id = member
                     AND NOT EXISTS (SELECT 1 FROM members m WHERE m.id = member AND m.badge_id = x.id)) THEN
            RAISE EXCEPTION '[SN002 badge_linkage] member % holds a member badge but does not point at it', member
                USING ERRCODE = 'SN002', CONSTRAINT = 'badge_linkage', TABLE = 'members';
        END IF;
    END IF;
END $$;

CREATE OR REPLACE FUNCTION badges_check_link() RETURNS trigger
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

CREATE OR REPLACE FUNCTION members_check_link() RETURNS trigger
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

-- Lifecycle: draft -> active -> completed; draft|active -> cancelled; completed and cancelled
-- are terminal. Rewriting the same status is allowed (idempotent close).
CREATE OR REPLACE FUNCTION events_check_transition() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status = OLD.status THEN
        RETURN NEW;
    END IF;
    IF (OLD.status, NEW.status) IN (('draft', 'active'), ('active', 'completed'),
                                    ('draft', 'cancelled'), ('active', 'cancelled')) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION '[SN004 invalid_transition] event status cannot change from % to %', OLD.status, NEW.status
        USING ERRCODE = 'SN004', CONSTRAINT = 'invalid_transition', TABLE = 'events';
END $$;

CREATE OR REPLACE FUNCTION protect_system_tag() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.is_system THEN
            RAISE EXCEPTION '[SN001 system_value] system tag "%" cannot be deleted', OLD.name
                USING ERRCODE = 'SN001', CONSTRAINT = 'system_value', TABLE = 'tags';
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.is_system AND (NEW.name IS DISTINCT FROM OLD.name OR NOT NEW.is_system OR NOT NEW.single_holder) THEN
        RAISE EXCEPTION '[SN001 system_value] system tag "%" cannot be renamed or changed into an ordinary tag', OLD.name
            USING ERRCODE = 'SN001', CONSTRAINT = 'system_value', TABLE = 'tags';
    END IF;
    IF NOT OLD.is_system AND NEW.is_system THEN
        RAISE EXCEPTION '[SN001 system_value] tags cannot be made system tags'
            USING ERRCODE = 'SN001', CONSTRAINT = 'system_value', TABLE = 'tags';
    END IF;
    RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION member_tags_copy_single_holder() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    SELECT t.single_holder INTO NEW.single_holder FROM tags t WHERE t.id = NEW.tag_id;
    NEW.single_holder := coalesce(NEW.single_holder, false);
    RETURN NEW;
END $$;

-- Turning single_holder on for a tag with several holders fails on the unique index.
CREATE OR REPLACE FUNCTION tags_propagate_single_holder() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE member_tags SET single_holder = NEW.single_holder WHERE tag_id = NEW.id;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION reject_history_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '[SN005 append_only] % rows are append-only', TG_TABLE_NAME
        USING ERRCODE = 'SN005', CONSTRAINT = 'append_only', TABLE = TG_TABLE_NAME;
END $$;

-- Lifecycle: active -> acknowledged | dismissed, once; both terminal.
CREATE OR REPLACE FUNCTION security_alerts_check_transition() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status <> OLD.status AND OLD.status <> 'active' THEN
        RAISE EXCEPTION '[SN004 invalid_transition] security alert is already % and cannot become %', OLD.status, NEW.status
            USING ERRCODE = 'SN004', CONSTRAINT = 'invalid_transition', TABLE = 'security_alerts';
    END IF;
    RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.admin_user_id IS NULL AND OLD.admin_user_id IS NOT NULL
       AND (NEW.id, NEW.action, NEW.entity_type, NEW.entity_id, NEW.details, NEW.ip_address, NEW.created_at)
           IS NOT DISTINCT FROM
           (OLD.id, OLD.action, OLD.entity_type, OLD.entity_id, OLD.details, OLD.ip_address, OLD.created_at) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION '[SN005 append_only] audit_log rows are append-only'
        USING ERRCODE = 'SN005', CONSTRAINT = 'append_only', TABLE = 'audit_log';
END $$;
