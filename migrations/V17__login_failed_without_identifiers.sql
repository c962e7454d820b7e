-- Failed sign-ins no longer keep the identifier as typed (it may be a password typed into the e-mail
-- field; docs/api.md, "Sign-in lockout"): a `login_failed` row names the matched `account`, or the
-- `identifierHash` (HMAC keyed with jwt_secret) of an unknown identifier. The lockout counts rows per
-- (address, subject) and per address, served by the two indexes below.
CREATE INDEX audit_log_login_failed_subject_idx
    ON audit_log ((COALESCE(details ->> 'account', details ->> 'identifierHash')), created_at DESC)
    WHERE action = 'login_failed';
CREATE INDEX audit_log_login_failed_ip_idx ON audit_log (ip_address, created_at DESC) WHERE action = 'login_failed';
DROP INDEX IF EXISTS audit_log_login_failed_idx;

-- Scrub the identifiers stored before: rows whose identifier matches an account name that account;
-- the rest keep only the fact that an identifier was removed. The audit log is otherwise append-only
-- (V4); this one-time scrub of a secret a user may have typed is the only sanctioned change.
ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only;
UPDATE audit_log a
SET entity_id = COALESCE(a.entity_id, u.id),
    details = (a.details - 'identifier') || jsonb_build_object('account', u.id)
FROM users u
WHERE a.action = 'login_failed' AND a.details ? 'identifier'
  AND COALESCE(a.details ->> 'method', 'password') = 'password'
  AND (lower(u.email) = lower(a.details ->> 'identifier') OR lower(u.username) = lower(a.details ->> 'identifier'));
UPDATE audit_log
SET details = (details - 'identifier') || '{"identifierRemoved": true}'::jsonb
WHERE action = 'login_failed' AND details ? 'identifier';
ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only;
