-- Credentials resolved into principals (docs/database.md, "Indexes and the scan's hot path").
-- Replaceable objects: applied after the versioned migrations whenever this file changes (docs/database.md).

-- The principal of an API key: one row, all NULL unless the key exists, is not revoked and has not
-- expired. Its use is recorded at most every 30 s (kiosk presence counts a key seen within 90 s as
-- online), so a kiosk's scans do not each rewrite the key's row. plpgsql so that its statements are
-- planned once per connection: sentinel_auth::principal_sql::API_KEY calls it on every request made
-- with a key (every badge scan), and Spin prepares each statement it is sent anew.
CREATE OR REPLACE FUNCTION api_key_principal(p_key_hash text, p_ip text,
                                             OUT key_id text, OUT kind text, OUT kiosk_id text, OUT name text)
LANGUAGE plpgsql AS $$
DECLARE
    k api_keys%ROWTYPE;
BEGIN
    SELECT * INTO k FROM api_keys WHERE key_hash = p_key_hash AND revoked_at IS NULL AND expires_at > now();
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF k.last_used_at IS NULL OR k.last_used_at < now() - interval '30 seconds' THEN
        UPDATE api_keys SET last_used_at = now(), last_seen_ip = coalesce(p_ip::inet, last_seen_ip) WHERE id = k.id;
    END IF;
    key_id := k.id::text;
    kind := k.kind;
    kiosk_id := k.kiosk_id;
    name := k.name;
END $$;
