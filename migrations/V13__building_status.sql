-- The building's status per operational day (later addition): opened by a member, secured by a lockup.
-- A day without a row has not been opened: the building is secured. docs/database.md, "Lockup".
CREATE TABLE building_status (
    operational_date    date        NOT NULL,
    status              text        NOT NULL,
    opened_at           timestamptz,
    opened_by           uuid,
    secured_at          timestamptz,
    secured_by          uuid,
    lockup_execution_id uuid,
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT building_status_pkey PRIMARY KEY (operational_date),
    CONSTRAINT building_status_status_check CHECK (status IN ('open', 'locking_up', 'secured')),
    CONSTRAINT building_status_secured_check CHECK (status <> 'secured' OR secured_at IS NOT NULL),
    CONSTRAINT building_status_opened_check CHECK (status <> 'open' OR opened_at IS NOT NULL),
    CONSTRAINT building_status_opened_by_fkey FOREIGN KEY (opened_by) REFERENCES members (id) ON DELETE SET NULL,
    CONSTRAINT building_status_secured_by_fkey FOREIGN KEY (secured_by) REFERENCES members (id) ON DELETE SET NULL,
    CONSTRAINT building_status_lockup_execution_id_fkey FOREIGN KEY (lockup_execution_id)
        REFERENCES lockup_executions (id) ON DELETE SET NULL
);
CREATE TRIGGER building_status_set_updated_at BEFORE UPDATE ON building_status
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
