-- Security alerts (domain §8.1), audit log (§8.2), sessions (§8.4), API keys and kiosk status (§8.5, §5.4).

-- ---------------------------------------------------------------------------------------------------------
-- Security alerts

CREATE TABLE security_alerts (
    id               uuid        NOT NULL DEFAULT gen_random_uuid(),
    alert_type       text        NOT NULL,
    severity         text        NOT NULL,
    badge_serial     text,
    -- Soft reference: alerts are evidence and survive member changes (no FK).
    member_id        uuid,
    kiosk_id         text        NOT NULL,
    message          text        NOT NULL,
    details          jsonb,
    status           text        NOT NULL DEFAULT 'active',
    acknowledged_by  uuid,
    acknowledged_at  timestamptz,
    acknowledge_note text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT security_alerts_pkey PRIMARY KEY (id),
    CONSTRAINT security_alerts_alert_type_check CHECK (alert_type IN (
        'badge_disabled', 'badge_unknown', 'inactive_member', 'unauthorized_access',
        'lockup_reminder', 'lockup_not_executed', 'duty_watch_missing', 'duty_watch_not_checked_in',
        'building_not_secured', 'member_missed_checkout', 'system')),
    CONSTRAINT security_alerts_severity_check CHECK (severity IN ('critical', 'warning', 'info')),
    CONSTRAINT security_alerts_badge_serial_check CHECK (char_length(badge_serial) <= 100),
    CONSTRAINT security_alerts_kiosk_id_check CHECK (char_length(kiosk_id) BETWEEN 1 AND 50),
    CONSTRAINT security_alerts_message_check CHECK (char_length(message) >= 1),
    CONSTRAINT security_alerts_status_check CHECK (status IN ('active', 'acknowledged', 'dismissed')),
    -- Active alerts carry no acknowledgement; closed alerts record when they were closed
    -- (acknowledged_by may be NULL: system closes, or the user was deleted).
    CONSTRAINT security_alerts_acknowledgement_check CHECK (
        CASE WHEN status = 'active'
             THEN acknowledged_at IS NULL AND acknowledged_by IS NULL AND acknowledge_note IS NULL
             ELSE acknowledged_at IS NOT NULL END),
    CONSTRAINT security_alerts_acknowledged_by_fkey FOREIGN KEY (acknowledged_by) REFERENCES users (id)
        ON DELETE SET NULL
);
CREATE INDEX security_alerts_status_idx ON security_alerts (status, created_at DESC);
CREATE INDEX security_alerts_alert_type_idx ON security_alerts (alert_type);
CREATE INDEX security_alerts_severity_idx ON security_alerts (severity);
CREATE INDEX security_alerts_created_at_idx ON security_alerts (created_at DESC);

-- Lifecycle: active -> acknowledged | dismissed, once; both terminal.
CREATE FUNCTION security_alerts_check_transition() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status <> OLD.status AND OLD.status <> 'active' THEN
        RAISE EXCEPTION 'security alert is already % and cannot become %', OLD.status, NEW.status
            USING ERRCODE = 'SN004', CONSTRAINT = 'invalid_transition', TABLE = 'security_alerts';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER security_alerts_check_transition BEFORE UPDATE OF status ON security_alerts
    FOR EACH ROW EXECUTE FUNCTION security_alerts_check_transition();

-- ---------------------------------------------------------------------------------------------------------
-- Audit log of administrative actions. Append-only; the only permitted update is the FK action that
-- clears admin_user_id when a user is deleted.

CREATE TABLE audit_log (
    id            uuid        NOT NULL DEFAULT gen_random_uuid(),
    admin_user_id uuid,
    action        text        NOT NULL,
    entity_type   text        NOT NULL,
    entity_id     uuid,
    details       jsonb,
    ip_address    inet,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT audit_log_pkey PRIMARY KEY (id),
    CONSTRAINT audit_log_action_check CHECK (action ~ '^[a-z][a-z0-9_]{0,99}$'),
    CONSTRAINT audit_log_entity_type_check CHECK (entity_type IN (
        'member', 'badge', 'checkin', 'visitor', 'event', 'division', 'admin_user', 'settings',
        'dds', 'lockup', 'tag', 'security_alert', 'api_key', 'enum')),
    CONSTRAINT audit_log_admin_user_id_fkey FOREIGN KEY (admin_user_id) REFERENCES users (id) ON DELETE SET NULL
);
CREATE INDEX audit_log_admin_user_id_idx ON audit_log (admin_user_id, created_at DESC);
CREATE INDEX audit_log_created_at_idx ON audit_log (created_at DESC);
CREATE INDEX audit_log_entity_idx ON audit_log (entity_type, entity_id);
CREATE INDEX audit_log_action_idx ON audit_log (action);

CREATE FUNCTION audit_log_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.admin_user_id IS NULL AND OLD.admin_user_id IS NOT NULL
       AND (NEW.id, NEW.action, NEW.entity_type, NEW.entity_id, NEW.details, NEW.ip_address, NEW.created_at)
           IS NOT DISTINCT FROM
           (OLD.id, OLD.action, OLD.entity_type, OLD.entity_id, OLD.details, OLD.ip_address, OLD.created_at) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit_log rows are append-only'
        USING ERRCODE = 'SN005', CONSTRAINT = 'append_only', TABLE = 'audit_log';
END $$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();

-- ---------------------------------------------------------------------------------------------------------
-- Sessions. Only a hash of the token is stored (e.g. hex SHA-256); the raw token is returned once.

CREATE TABLE sessions (
    id           uuid        NOT NULL DEFAULT gen_random_uuid(),
    user_id      uuid        NOT NULL,
    token_hash   text        NOT NULL,
    kind         text        NOT NULL DEFAULT 'password',
    expires_at   timestamptz NOT NULL,
    -- Last sliding renewal of expires_at (password sessions renew when used > 24 h after this).
    renewed_at   timestamptz NOT NULL DEFAULT now(),
    ip_address   inet,
    user_agent   text,
    revoked_at   timestamptz,
    last_seen_at timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT sessions_pkey PRIMARY KEY (id),
    CONSTRAINT sessions_token_hash_key UNIQUE (token_hash),
    CONSTRAINT sessions_token_hash_check CHECK (char_length(token_hash) BETWEEN 1 AND 128),
    CONSTRAINT sessions_kind_check CHECK (kind IN ('password', 'rfid')),
    CONSTRAINT sessions_user_agent_check CHECK (char_length(user_agent) <= 500),
    CONSTRAINT sessions_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);
CREATE TRIGGER sessions_set_updated_at BEFORE UPDATE ON sessions FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- ---------------------------------------------------------------------------------------------------------
-- API keys. Secret format sk_ + random; only its hash is stored.

CREATE TABLE api_keys (
    id           uuid        NOT NULL DEFAULT gen_random_uuid(),
    name         text        NOT NULL,
    kind         text        NOT NULL,
    kiosk_id     text,
    key_hash     text        NOT NULL,
    key_prefix   text        NOT NULL,
    scopes       text[]      NOT NULL DEFAULT '{}',
    created_by   uuid,
    expires_at   timestamptz NOT NULL DEFAULT now() + interval '365 days',
    last_used_at timestamptz,
    last_seen_ip inet,
    revoked_at   timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT api_keys_pkey PRIMARY KEY (id),
    CONSTRAINT api_keys_key_hash_key UNIQUE (key_hash),
    CONSTRAINT api_keys_name_check CHECK (char_length(name) BETWEEN 1 AND 200),
    CONSTRAINT api_keys_kind_check CHECK (kind IN ('kiosk', 'display', 'integration')),
    -- A kiosk key is bound to exactly one kiosk id; other kinds have none.
    CONSTRAINT api_keys_kiosk_id_check CHECK (
        (kind = 'kiosk') = (kiosk_id IS NOT NULL) AND char_length(kiosk_id) BETWEEN 1 AND 50),
    CONSTRAINT api_keys_key_hash_check CHECK (char_length(key_hash) BETWEEN 1 AND 128),
    CONSTRAINT api_keys_key_prefix_check CHECK (char_length(key_prefix) BETWEEN 1 AND 12),
    CONSTRAINT api_keys_created_by_fkey FOREIGN KEY (created_by) REFERENCES users (id) ON DELETE SET NULL
);
-- One non-revoked key per kiosk id (revoke the old key before issuing a new one).
CREATE UNIQUE INDEX api_keys_active_kiosk_id_key ON api_keys (kiosk_id) WHERE kind = 'kiosk' AND revoked_at IS NULL;
CREATE INDEX api_keys_kind_idx ON api_keys (kind);
CREATE TRIGGER api_keys_set_updated_at BEFORE UPDATE ON api_keys FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- Kiosk status (api.md §16.5): one row per kiosk id, written by heartbeats and authenticated kiosk requests.
-- last_reported_status remembers what was last pushed so online/offline transitions are pushed once.
CREATE TABLE kiosk_status (
    kiosk_id             text        NOT NULL,
    api_key_id           uuid,
    last_seen_at         timestamptz NOT NULL DEFAULT now(),
    queue_size           integer,
    app_version          text,
    last_ip              inet,
    last_reported_status text,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT kiosk_status_pkey PRIMARY KEY (kiosk_id),
    CONSTRAINT kiosk_status_kiosk_id_check CHECK (char_length(kiosk_id) BETWEEN 1 AND 50),
    CONSTRAINT kiosk_status_queue_size_check CHECK (queue_size >= 0),
    CONSTRAINT kiosk_status_app_version_check CHECK (char_length(app_version) <= 100),
    CONSTRAINT kiosk_status_last_reported_status_check CHECK (last_reported_status IN ('online', 'offline')),
    CONSTRAINT kiosk_status_api_key_id_fkey FOREIGN KEY (api_key_id) REFERENCES api_keys (id) ON DELETE SET NULL
);
CREATE INDEX kiosk_status_last_seen_at_idx ON kiosk_status (last_seen_at DESC);
CREATE TRIGGER kiosk_status_set_updated_at BEFORE UPDATE ON kiosk_status FOR EACH ROW EXECUTE FUNCTION set_updated_at();
