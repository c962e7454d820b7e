-- Sign-in lockout without Redis (api.md §0.6, §16.4.3): each sign-in statement counts the recent
-- `login_failed` audit rows of its (IP, identifier), so the lockout holds while Redis is unreachable.
-- This partial index keeps that count to the few rows of one identifier in the window; the IP and
-- method are checked on those rows.

CREATE INDEX audit_log_login_failed_idx ON audit_log (lower(details ->> 'identifier'), created_at DESC)
    WHERE action = 'login_failed';
