-- Muster roll calls (docs/database.md, "Muster"): in an evacuation, everyone inside when the muster starts,
-- each accounted for at the muster point by staff or by a badge scan. At most one muster is open.
CREATE TABLE musters (
    id          uuid        NOT NULL DEFAULT gen_random_uuid(),
    status      text        NOT NULL DEFAULT 'open',
    reason      text,
    started_at  timestamptz NOT NULL DEFAULT now(),
    started_by  uuid,
    closed_at   timestamptz,
    closed_by   uuid,
    CONSTRAINT musters_pkey PRIMARY KEY (id),
    CONSTRAINT musters_status_check CHECK (status IN ('open', 'closed')),
    CONSTRAINT musters_closed_check CHECK ((status = 'closed') = (closed_at IS NOT NULL)),
    CONSTRAINT musters_reason_check CHECK (char_length(reason) <= 500),
    CONSTRAINT musters_started_by_fkey FOREIGN KEY (started_by) REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT musters_closed_by_fkey FOREIGN KEY (closed_by) REFERENCES users (id) ON DELETE SET NULL
);
CREATE UNIQUE INDEX musters_one_open_key ON musters ((true)) WHERE status = 'open';
CREATE INDEX musters_started_at_idx ON musters (started_at DESC);

CREATE TABLE muster_people (
    muster_id        uuid        NOT NULL,
    person_type      text        NOT NULL,
    person_id        uuid        NOT NULL,
    name             text        NOT NULL,
    rank             text,
    division         text,
    organization     text,
    checked_in_at    timestamptz,
    accounted_at     timestamptz,
    accounted_by     uuid,
    accounted_method text,
    CONSTRAINT muster_people_pkey PRIMARY KEY (muster_id, person_id),
    CONSTRAINT muster_people_person_type_check CHECK (person_type IN ('member', 'visitor')),
    CONSTRAINT muster_people_accounted_method_check CHECK (accounted_method IN ('manual', 'scan')),
    CONSTRAINT muster_people_accounted_check CHECK ((accounted_at IS NULL) = (accounted_method IS NULL)),
    CONSTRAINT muster_people_muster_id_fkey FOREIGN KEY (muster_id) REFERENCES musters (id) ON DELETE CASCADE,
    CONSTRAINT muster_people_accounted_by_fkey FOREIGN KEY (accounted_by) REFERENCES users (id) ON DELETE SET NULL
);
-- The scan path looks a member up here on every scan: only the unaccounted rows are indexed.
CREATE INDEX muster_people_waiting_idx ON muster_people (person_id) WHERE accounted_at IS NULL;

ALTER TABLE audit_log DROP CONSTRAINT audit_log_entity_type_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_entity_type_check CHECK (entity_type IN (
    'member', 'badge', 'checkin', 'visitor', 'event', 'event_attendee', 'event_checkin', 'division', 'admin_user',
    'settings', 'dds', 'lockup', 'tag', 'security_alert', 'api_key', 'enum', 'muster'));
