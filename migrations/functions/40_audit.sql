-- Audit rows: the one writer every mutation uses.
-- Replaceable objects: applied after the versioned migrations whenever this file changes (docs/database.md).

CREATE OR REPLACE FUNCTION write_audit(p_user uuid, p_api_key text, p_ip text, p_action text, p_entity_type text,
                                       p_entity uuid, p_details jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO audit_log (admin_user_id, action, entity_type, entity_id, details, ip_address)
    VALUES (p_user, p_action, p_entity_type, p_entity,
            coalesce(p_details, '{}'::jsonb)
              || CASE WHEN p_api_key IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('apiKeyId', p_api_key) END,
            p_ip::inet);
END $$;
