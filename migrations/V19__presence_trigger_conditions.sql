-- The presence:update triggers (V16) each fired on every update of their table and left outbox_presence to
-- tell, table by table, whether the change moved the figures. Each UPDATE trigger now states that condition
-- in its own WHEN clause, beside its binding, and an update that moves nothing never calls the function
-- (docs/database.md, "Realtime outbox"). A WHEN clause may not read OLD on INSERT nor NEW on DELETE, so
-- inserts and deletes keep a trigger of their own.
DROP TRIGGER member_presence_outbox ON member_presence;
DROP TRIGGER members_outbox_presence ON members;
DROP TRIGGER divisions_outbox_presence ON divisions;
DROP TRIGGER visitors_outbox_presence ON visitors;

CREATE CONSTRAINT TRIGGER member_presence_outbox AFTER INSERT OR DELETE ON member_presence
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION outbox_presence();
CREATE CONSTRAINT TRIGGER member_presence_outbox_update AFTER UPDATE OF direction ON member_presence
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (OLD.direction IS DISTINCT FROM NEW.direction) EXECUTE FUNCTION outbox_presence();

CREATE CONSTRAINT TRIGGER members_outbox_presence AFTER INSERT OR DELETE ON members
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION outbox_presence();
CREATE CONSTRAINT TRIGGER members_outbox_presence_update AFTER UPDATE OF status, division_id ON members
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN ((OLD.status, OLD.division_id) IS DISTINCT FROM (NEW.status, NEW.division_id)) EXECUTE FUNCTION outbox_presence();

CREATE CONSTRAINT TRIGGER divisions_outbox_presence AFTER INSERT OR DELETE ON divisions
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION outbox_presence();
CREATE CONSTRAINT TRIGGER divisions_outbox_presence_update AFTER UPDATE OF name ON divisions
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (OLD.name IS DISTINCT FROM NEW.name) EXECUTE FUNCTION outbox_presence();

CREATE CONSTRAINT TRIGGER visitors_outbox_presence AFTER INSERT OR DELETE ON visitors
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION outbox_presence();
CREATE CONSTRAINT TRIGGER visitors_outbox_presence_update AFTER UPDATE OF check_out_time ON visitors
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (OLD.check_out_time IS DISTINCT FROM NEW.check_out_time) EXECUTE FUNCTION outbox_presence();
