-- Badge scans update badges.last_used on every accepted scan; only assignment and status changes can affect
-- the assignability rule or the member <-> badge link, so fire those triggers only for those columns.

DROP TRIGGER badges_check_assignable ON badges;
CREATE TRIGGER badges_check_assignable BEFORE INSERT OR UPDATE OF assignment_type, assigned_to_id, status ON badges
    FOR EACH ROW EXECUTE FUNCTION badges_check_assignable();

DROP TRIGGER badges_member_link ON badges;
CREATE CONSTRAINT TRIGGER badges_member_link AFTER INSERT OR UPDATE OF assignment_type, assigned_to_id OR DELETE ON badges
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION badges_check_link();
