-- The realtime outbox (docs/database.md, "Realtime outbox"): every realtime event is a row written in the
-- transaction of the change it announces, so the change and its events commit together. The relay appends
-- the rows to the channel streams in (txid, id) order, each once, and deletes them.
CREATE TABLE event_outbox (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The writing transaction: rows are published only once every transaction older than the reader's
    -- snapshot has ended, so no earlier row can still appear.
    txid xid8 NOT NULL DEFAULT pg_current_xact_id(),
    channel text NOT NULL,
    event text NOT NULL,
    -- When the event was written (ISO-8601 UTC with milliseconds, as iso() formats it).
    ts text NOT NULL DEFAULT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    data jsonb NOT NULL
);
CREATE INDEX event_outbox_order ON event_outbox (txid, id);

-- The trigger functions are in migrations/functions/45_outbox.sql; `sentinel migrate` declares them before
-- the versioned migrations run (docs/database.md, "Two kinds of files").
CREATE TRIGGER checkins_outbox AFTER INSERT ON checkins FOR EACH ROW EXECUTE FUNCTION outbox_checkin_new();
CREATE TRIGGER security_alerts_outbox AFTER INSERT OR UPDATE OF status ON security_alerts
    FOR EACH ROW EXECUTE FUNCTION outbox_alert();
-- Deferred: the payload names the holder, who may be written after the badge in the same transaction.
CREATE CONSTRAINT TRIGGER badges_outbox AFTER INSERT OR UPDATE OF assignment_type, assigned_to_id ON badges
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION outbox_badge_assignment();
CREATE TRIGGER visitors_outbox AFTER INSERT OR UPDATE OF check_out_time ON visitors
    FOR EACH ROW EXECUTE FUNCTION outbox_visitor();
CREATE TRIGGER events_outbox AFTER INSERT OR UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION outbox_event_update();
-- presence:update once per transaction that changed the figures, computed at commit.
CREATE CONSTRAINT TRIGGER member_presence_outbox AFTER INSERT OR UPDATE OR DELETE ON member_presence
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION outbox_presence();
CREATE CONSTRAINT TRIGGER members_outbox_presence AFTER INSERT OR UPDATE OF status, division_id OR DELETE ON members
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION outbox_presence();
CREATE CONSTRAINT TRIGGER divisions_outbox_presence AFTER INSERT OR UPDATE OF name OR DELETE ON divisions
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION outbox_presence();
CREATE CONSTRAINT TRIGGER visitors_outbox_presence AFTER INSERT OR UPDATE OF check_out_time OR DELETE ON visitors
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION outbox_presence();
CREATE TRIGGER sessions_outbox AFTER UPDATE OF revoked_at ON sessions
    FOR EACH ROW EXECUTE FUNCTION outbox_session_revoked();
CREATE TRIGGER users_outbox AFTER UPDATE OF role OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION outbox_user_revoked();
CREATE TRIGGER api_keys_outbox AFTER UPDATE OF revoked_at ON api_keys
    FOR EACH ROW EXECUTE FUNCTION outbox_api_key_revoked();
