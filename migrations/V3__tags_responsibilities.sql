-- Tags and tag holders (domain §4.2), responsibility audit log (§7.1), DDS (§7.2), lockup executions (§7.3).

-- ---------------------------------------------------------------------------------------------------------
-- Tags

CREATE TABLE tags (
    id            uuid        NOT NULL DEFAULT gen_random_uuid(),
    name          text        NOT NULL,
    color         text        NOT NULL,
    description   text,
    display_order integer     NOT NULL DEFAULT 0,
    -- At most one member may hold a single-holder tag at a time (later addition calls it isPositional).
    single_holder boolean     NOT NULL DEFAULT false,
    -- System tags (Lockup) cannot be renamed, deleted or lose single_holder.
    is_system     boolean     NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT tags_pkey PRIMARY KEY (id),
    CONSTRAINT tags_name_key UNIQUE (name),
    CONSTRAINT tags_name_check CHECK (char_length(name) BETWEEN 1 AND 100),
    CONSTRAINT tags_color_check CHECK (char_length(color) BETWEEN 1 AND 50)
);
CREATE INDEX tags_display_order_idx ON tags (display_order, name);
CREATE TRIGGER tags_set_updated_at BEFORE UPDATE ON tags FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE FUNCTION protect_system_tag() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.is_system THEN
            RAISE EXCEPTION 'system tag "%" cannot be deleted', OLD.name
                USING ERRCODE = 'SN001', CONSTRAINT = 'system_value', TABLE = 'tags';
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.is_system AND (NEW.name IS DISTINCT FROM OLD.name OR NOT NEW.is_system OR NOT NEW.single_holder) THEN
        RAISE EXCEPTION 'system tag "%" cannot be renamed or changed into an ordinary tag', OLD.name
            USING ERRCODE = 'SN001', CONSTRAINT = 'system_value', TABLE = 'tags';
    END IF;
    IF NOT OLD.is_system AND NEW.is_system THEN
        RAISE EXCEPTION 'tags cannot be made system tags'
            USING ERRCODE = 'SN001', CONSTRAINT = 'system_value', TABLE = 'tags';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER tags_protect_system BEFORE UPDATE OR DELETE ON tags
    FOR EACH ROW EXECUTE FUNCTION protect_system_tag();

INSERT INTO tags (name, color, description, display_order, single_holder, is_system) VALUES
    ('Lockup',           '#DC2626', 'Holder is responsible for the end-of-day building lockup', 0, true, true),
    ('FTS',              '#2563EB', 'Full-time staff',                  1, false, false),
    ('BMQ',              '#16A34A', 'Basic Military Qualification',     2, false, false),
    ('qualified_driver', '#CA8A04', 'Qualified to drive unit vehicles', 3, false, false),
    ('duty_crew',        '#7C3AED', 'Member of the duty crew',          4, false, false),
    ('instructor',       '#0891B2', 'Qualified instructor',             5, false, false),
    ('first_aid',        '#E11D48', 'First aid qualified',              6, false, false);

-- ---------------------------------------------------------------------------------------------------------
-- Tag holders. single_holder is a copy of tags.single_holder kept by triggers so that a partial unique
-- index can enforce "at most one holder" race-free (23505 on member_tags_single_holder_key).

CREATE TABLE member_tags (
    id            uuid        NOT NULL DEFAULT gen_random_uuid(),
    member_id     uuid        NOT NULL,
    tag_id        uuid        NOT NULL,
    single_holder boolean     NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT member_tags_pkey PRIMARY KEY (id),
    CONSTRAINT member_tags_member_id_tag_id_key UNIQUE (member_id, tag_id),
    CONSTRAINT member_tags_member_id_fkey FOREIGN KEY (member_id) REFERENCES members (id) ON DELETE CASCADE,
    CONSTRAINT member_tags_tag_id_fkey FOREIGN KEY (tag_id) REFERENCES tags (id) ON DELETE CASCADE
);
CREATE INDEX member_tags_tag_id_idx ON member_tags (tag_id);
CREATE UNIQUE INDEX member_tags_single_holder_key ON member_tags (tag_id) WHERE single_holder;

CREATE FUNCTION member_tags_copy_single_holder() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    SELECT t.single_holder INTO NEW.single_holder FROM tags t WHERE t.id = NEW.tag_id;
    NEW.single_holder := coalesce(NEW.single_holder, false);
    RETURN NEW;
END $$;
CREATE TRIGGER member_tags_copy_single_holder BEFORE INSERT OR UPDATE ON member_tags
    FOR EACH ROW EXECUTE FUNCTION member_tags_copy_single_holder();

-- Turning single_holder on for a tag with several holders fails on the unique index.
CREATE FUNCTION tags_propagate_single_holder() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE member_tags SET single_holder = NEW.single_holder WHERE tag_id = NEW.id;
    RETURN NULL;
END $$;
CREATE TRIGGER tags_propagate_single_holder AFTER UPDATE OF single_holder ON tags
    FOR EACH ROW WHEN (OLD.single_holder IS DISTINCT FROM NEW.single_holder)
    EXECUTE FUNCTION tags_propagate_single_holder();

-- ---------------------------------------------------------------------------------------------------------
-- Append-only history tables raise SN005 on UPDATE/DELETE.

CREATE FUNCTION reject_history_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% rows are append-only', TG_TABLE_NAME
        USING ERRCODE = 'SN005', CONSTRAINT = 'append_only', TABLE = TG_TABLE_NAME;
END $$;

-- Responsibility audit log (domain §7.1)
CREATE TABLE responsibility_audit_log (
    id                uuid        NOT NULL DEFAULT gen_random_uuid(),
    member_id         uuid        NOT NULL,
    tag_name          text        NOT NULL,
    action            text        NOT NULL,
    from_member_id    uuid,
    to_member_id      uuid,
    performed_by      uuid,
    performed_by_type text        NOT NULL,
    "timestamp"       timestamptz NOT NULL DEFAULT now(),
    notes             text,
    CONSTRAINT responsibility_audit_log_pkey PRIMARY KEY (id),
    CONSTRAINT responsibility_audit_log_tag_name_check CHECK (tag_name IN ('DDS', 'Lockup')),
    CONSTRAINT responsibility_audit_log_action_check CHECK (action IN
        ('assigned', 'self_accepted', 'transferred', 'released', 'building_lockup')),
    CONSTRAINT responsibility_audit_log_performed_by_type_check CHECK (performed_by_type IN ('admin', 'member', 'system'))
);
CREATE INDEX responsibility_audit_log_member_id_idx ON responsibility_audit_log (member_id);
CREATE INDEX responsibility_audit_log_tag_name_idx ON responsibility_audit_log (tag_name, "timestamp" DESC);
CREATE INDEX responsibility_audit_log_timestamp_idx ON responsibility_audit_log ("timestamp" DESC);
CREATE TRIGGER responsibility_audit_log_append_only BEFORE UPDATE OR DELETE ON responsibility_audit_log
    FOR EACH ROW EXECUTE FUNCTION reject_history_change();

-- ---------------------------------------------------------------------------------------------------------
-- DDS assignments (domain §7.2)

CREATE TABLE dds_assignments (
    id             uuid        NOT NULL DEFAULT gen_random_uuid(),
    member_id      uuid        NOT NULL,
    assigned_date  date        NOT NULL,
    accepted_at    timestamptz,
    released_at    timestamptz,
    transferred_to uuid,
    assigned_by    uuid,
    status         text        NOT NULL DEFAULT 'pending',
    notes          text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT dds_assignments_pkey PRIMARY KEY (id),
    CONSTRAINT dds_assignments_status_check CHECK (status IN ('pending', 'active', 'transferred', 'released')),
    -- Current rows are open; closed rows record when they were closed.
    CONSTRAINT dds_assignments_released_at_check CHECK ((status IN ('pending', 'active')) = (released_at IS NULL)),
    CONSTRAINT dds_assignments_transferred_to_check CHECK (transferred_to IS NULL OR status = 'transferred'),
    CONSTRAINT dds_assignments_member_id_fkey FOREIGN KEY (member_id) REFERENCES members (id) ON DELETE RESTRICT,
    CONSTRAINT dds_assignments_transferred_to_fkey FOREIGN KEY (transferred_to) REFERENCES members (id) ON DELETE SET NULL,
    CONSTRAINT dds_assignments_assigned_by_fkey FOREIGN KEY (assigned_by) REFERENCES users (id) ON DELETE SET NULL
);
-- At most one current (pending or active) assignment per operational day.
CREATE UNIQUE INDEX dds_assignments_current_key ON dds_assignments (assigned_date) WHERE status IN ('pending', 'active');
CREATE INDEX dds_assignments_member_id_idx ON dds_assignments (member_id);
CREATE INDEX dds_assignments_assigned_date_idx ON dds_assignments (assigned_date DESC, created_at DESC);
CREATE INDEX dds_assignments_status_idx ON dds_assignments (status);
CREATE TRIGGER dds_assignments_set_updated_at BEFORE UPDATE ON dds_assignments
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- ---------------------------------------------------------------------------------------------------------
-- Lockup executions (domain §7.3). Append-only.

CREATE TABLE lockup_executions (
    id                   uuid        NOT NULL DEFAULT gen_random_uuid(),
    executed_by          uuid        NOT NULL,
    executed_at          timestamptz NOT NULL DEFAULT now(),
    operational_date     date        NOT NULL,
    members_checked_out  jsonb       NOT NULL DEFAULT '[]',
    visitors_checked_out jsonb       NOT NULL DEFAULT '[]',
    total_checked_out    integer     NOT NULL DEFAULT 0,
    notes                text,
    audit_log_id         uuid,
    created_at           timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT lockup_executions_pkey PRIMARY KEY (id),
    CONSTRAINT lockup_executions_members_checked_out_check CHECK (jsonb_typeof(members_checked_out) = 'array'),
    CONSTRAINT lockup_executions_visitors_checked_out_check CHECK (jsonb_typeof(visitors_checked_out) = 'array'),
    CONSTRAINT lockup_executions_total_checked_out_check CHECK (total_checked_out >= 0),
    CONSTRAINT lockup_executions_executed_by_fkey FOREIGN KEY (executed_by) REFERENCES members (id) ON DELETE RESTRICT,
    CONSTRAINT lockup_executions_audit_log_id_fkey FOREIGN KEY (audit_log_id) REFERENCES responsibility_audit_log (id)
);
CREATE INDEX lockup_executions_executed_at_idx ON lockup_executions (executed_at DESC);
CREATE INDEX lockup_executions_executed_by_idx ON lockup_executions (executed_by);
CREATE INDEX lockup_executions_operational_date_idx ON lockup_executions (operational_date);
CREATE TRIGGER lockup_executions_append_only BEFORE UPDATE OR DELETE ON lockup_executions
    FOR EACH ROW EXECUTE FUNCTION reject_history_change();
