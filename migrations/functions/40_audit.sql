-- Audit rows: one definition of an audit row's content, used by every writer.
-- Replaceable objects: applied after the versioned migrations whenever this file changes (docs/database.md).

-- The audit_log values for one action: the actor (user, or the API key merged into details as apiKeyId),
-- the entity, the details and the client address. The Rust handlers insert it from a data-modifying CTE
-- (sentinel_api::audit::cte), the SQL functions through write_audit: both go through this function.
CREATE OR REPLACE FUNCTION audit_entry(p_user uuid, p_api_key text, p_ip text, p_action text, p_entity_type text,
                                       p_entity uuid, p_details jsonb)
RETURNS TABLE (admin_user_id uuid, action text, entity_type text, entity_id uuid, details jsonb, ip_address inet)
LANGUAGE sql IMMUTABLE AS $$
    SELECT p_user, p_action, p_entity_type, p_entity,
           coalesce(p_details, '{}'::jsonb)
             || CASE WHEN p_api_key IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('apiKeyId', p_api_key) END,
           p_ip::inet
$$;

CREATE OR REPLACE FUNCTION write_audit(p_user uuid, p_api_key text, p_ip text, p_action text, p_entity_type text,
                                       p_entity uuid, p_details jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO audit_log (admin_user_id, action, entity_type, entity_id, details, ip_address)
    SELECT * FROM audit_entry(p_user, p_api_key, p_ip, p_action, p_entity_type, p_entity, p_details);
END $$;
