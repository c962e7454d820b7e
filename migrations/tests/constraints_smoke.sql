-- Constraint smoke test for the migrations (not a migration; refinery ignores this directory's name pattern).
-- Run against a freshly migrated database (no demo seed; some assertions count rows):
--   psql -X -v ON_ERROR_STOP=1 -d <db> -f migrations/tests/constraints_smoke.sql
-- The test suite runs it on a fresh database (tests/tests/ops.rs, constraints_smoke_sql_passes_on_a_fresh_database).
-- Everything runs in one transaction that is rolled back; the script fails on the first broken expectation
-- and prints "constraints smoke: OK" at the end.

BEGIN;

-- Runs stmt (then forces deferred constraint checks) and asserts it fails with the given SQLSTATE and,
-- if given, constraint name.
CREATE FUNCTION pg_temp.expect_fail(stmt text, want_state text, want_constraint text DEFAULT NULL) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    got_state text;
    got_constraint text;
BEGIN
    BEGIN
        EXECUTE stmt;
        SET CONSTRAINTS ALL IMMEDIATE;
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS got_state = RETURNED_SQLSTATE, got_constraint = CONSTRAINT_NAME;
        SET CONSTRAINTS ALL DEFERRED;
        IF got_state <> want_state OR (want_constraint IS NOT NULL AND got_constraint IS DISTINCT FROM want_constraint) THEN
            RAISE EXCEPTION 'expected % % from [%], got % %', want_state, want_constraint, stmt, got_state, got_constraint;
        END IF;
        RETURN;
    END;
    RAISE EXCEPTION 'expected % % from [%], but it succeeded', want_state, want_constraint, stmt;
END $$;

-- Runs stmt and forces deferred checks, asserting success.
CREATE FUNCTION pg_temp.expect_ok(stmt text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE stmt;
    SET CONSTRAINTS ALL IMMEDIATE;
    SET CONSTRAINTS ALL DEFERRED;
END $$;

CREATE FUNCTION pg_temp.assert(cond boolean, what text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF cond IS NOT TRUE THEN RAISE EXCEPTION 'assertion failed: %', what; END IF;
END $$;

-- iso / iso_date / operational_date -------------------------------------------------------------------------
SELECT pg_temp.assert(iso('2026-01-23 16:56:39.5+00') = '2026-01-23T16:56:39.500Z', 'iso utc');
SELECT pg_temp.assert(iso('2026-01-23 10:56:39-06') = '2026-01-23T16:56:39.000Z', 'iso converts to utc');
SELECT pg_temp.assert(iso(NULL) IS NULL, 'iso null');
SET TIME ZONE 'Asia/Tokyo';
SELECT pg_temp.assert(iso('2026-01-23 16:56:39+00') = '2026-01-23T16:56:39.000Z', 'iso independent of session tz');
RESET TIME ZONE;
SELECT pg_temp.assert(iso_date('2026-06-01') = '2026-06-01T00:00:00.000Z', 'iso_date');
SELECT pg_temp.assert(iso_date(NULL) IS NULL, 'iso_date null');
SELECT pg_temp.assert(operational_date('2026-01-24 08:30+00', 'America/Winnipeg', '03:00') = '2026-01-23', 'operational day before 03:00 local');
SELECT pg_temp.assert(operational_date('2026-01-24 09:30+00', 'America/Winnipeg', '03:00') = '2026-01-24', 'operational day after 03:00 local');

-- lookups ---------------------------------------------------------------------------------------------------
SELECT pg_temp.assert((SELECT count(*) FROM member_statuses) = 6, 'member statuses seeded');
SELECT pg_temp.assert((SELECT count(*) FROM member_types) = 4, 'member types seeded');
SELECT pg_temp.assert((SELECT count(*) FROM visit_types) = 4, 'visit types seeded');
SELECT pg_temp.assert((SELECT count(*) FROM badge_statuses WHERE is_system) = 4, 'badge statuses seeded, system');
SELECT pg_temp.expect_fail($$DELETE FROM member_statuses WHERE code = 'active'$$, 'SN001', 'system_value');
SELECT pg_temp.expect_fail($$UPDATE badge_statuses SET code = 'ok' WHERE code = 'active'$$, 'SN001', 'system_value');
SELECT pg_temp.expect_fail($$UPDATE member_types SET is_system = false WHERE code = 'class_a'$$, 'SN001', 'system_value');
SELECT pg_temp.expect_fail($$UPDATE visit_types SET is_system = true WHERE code = 'guest'$$, 'SN001', 'system_value');
SELECT pg_temp.expect_ok($$UPDATE member_statuses SET name = 'Serving', color = 'green' WHERE code = 'active'$$);
SELECT pg_temp.expect_fail($$INSERT INTO visit_types (code, name) VALUES ('guest', 'Dup')$$, '23505', 'visit_types_code_key');
SELECT pg_temp.expect_fail($$INSERT INTO visit_types (code, name) VALUES ('Bad-Code', 'x')$$, '23514', 'visit_types_code_check');
SELECT pg_temp.expect_fail($$INSERT INTO visit_types (code, name) VALUES ('ok', '')$$, '23514', 'visit_types_name_check');
SELECT pg_temp.expect_ok($$INSERT INTO visit_types (code, name) VALUES ('vendor', 'Vendor')$$);
SELECT pg_temp.expect_ok($$UPDATE visit_types SET code = 'supplier' WHERE code = 'vendor'$$);
SELECT pg_temp.expect_ok($$DELETE FROM visit_types WHERE code = 'supplier'$$);

-- ranks -----------------------------------------------------------------------------------------------------
SELECT pg_temp.assert((SELECT count(*) FROM ranks WHERE code IN
    ('AB','LS','OS','S3','S2','S1','MS','PO2','PO1','CPO2','CPO1')) = 11, 'the 11 RankCodes exist');
SELECT pg_temp.assert((SELECT r.code FROM ranks o JOIN ranks r ON r.id = o.replaced_by WHERE o.code = 'AB') = 'S2', 'AB -> S2');
SELECT pg_temp.assert((SELECT count(*) FROM ranks WHERE NOT is_active) = 3, 'OS/AB/LS deprecated');
SELECT pg_temp.expect_fail($$INSERT INTO ranks (code, name, branch, category) VALUES ('lt(n)', 'x', 'navy', 'junior_officer')$$, '23505', 'ranks_code_lower_key');
SELECT pg_temp.expect_fail($$INSERT INTO ranks (code, name, branch, category) VALUES ('X', 'x', 'marines', 'junior_ncm')$$, '23514', 'ranks_branch_check');

-- divisions -------------------------------------------------------------------------------------------------
INSERT INTO divisions (id, code, name, color) VALUES
    ('00000000-0000-0000-0000-00000000d001', 'OPS', 'Operations', '#1D4ED8'),
    ('00000000-0000-0000-0000-00000000d002', 'EMPTY', 'Empty', NULL);
SELECT pg_temp.expect_fail($$INSERT INTO divisions (code, name) VALUES ('ops', 'x')$$, '23514', 'divisions_code_check');
SELECT pg_temp.expect_fail($$INSERT INTO divisions (code, name) VALUES ('OPS', 'x')$$, '23505', 'divisions_code_key');
SELECT pg_temp.expect_fail($$INSERT INTO divisions (code, name) VALUES ('', 'x')$$, '23514', 'divisions_code_check');
SELECT pg_temp.expect_fail($$INSERT INTO divisions (code, name) VALUES ('ABCDEFGHIJKLMNOPQRSTU', 'x')$$, '23514', 'divisions_code_check');
SELECT pg_temp.expect_fail($$INSERT INTO divisions (code, name, color) VALUES ('X', 'x', 'red')$$, '23514', 'divisions_color_check');
SELECT pg_temp.expect_fail($$INSERT INTO divisions (code, name, color) VALUES ('X', 'x', '#12345')$$, '23514', 'divisions_color_check');
SELECT pg_temp.expect_fail($$INSERT INTO divisions (code, name) VALUES ('X', '')$$, '23514', 'divisions_name_check');

-- updated_at trigger
UPDATE divisions SET updated_at = '2000-01-01' WHERE code = 'EMPTY';
SELECT pg_temp.assert((SELECT updated_at FROM divisions WHERE code = 'EMPTY') = now(), 'updated_at maintained');

-- members ---------------------------------------------------------------------------------------------------
INSERT INTO members (id, service_number, rank, first_name, last_name, division_id) VALUES
    ('00000000-0000-0000-0000-00000000a001', 'SN100001', 'S1', 'Ann', 'Able', '00000000-0000-0000-0000-00000000d001'),
    ('00000000-0000-0000-0000-00000000a002', 'SN100002', 'PO2', 'Bob', 'Baker', '00000000-0000-0000-0000-00000000d001'),
    ('00000000-0000-0000-0000-00000000a003', 'SN100003', 'AB', 'Cy', 'Cole', '00000000-0000-0000-0000-00000000d001');
SELECT pg_temp.assert((SELECT member_type || '/' || status FROM members WHERE service_number = 'SN100001') = 'class_a/active', 'member defaults');
SELECT pg_temp.expect_fail($$INSERT INTO members (service_number, rank, first_name, last_name, division_id) VALUES ('SN100001', 'S1', 'a', 'b', '00000000-0000-0000-0000-00000000d001')$$, '23505', 'members_service_number_key');
SELECT pg_temp.expect_fail($$INSERT INTO members (service_number, rank, first_name, last_name, division_id) VALUES ('SN9', 'Bosun', 'a', 'b', '00000000-0000-0000-0000-00000000d001')$$, '23503', 'members_rank_fkey');
SELECT pg_temp.expect_fail($$INSERT INTO members (service_number, rank, first_name, last_name, division_id) VALUES ('SN9', 'S1', 'a', 'b', NULL)$$, '23502');
SELECT pg_temp.expect_fail($$INSERT INTO members (service_number, rank, first_name, last_name, division_id) VALUES ('SN9', 'S1', 'a', 'b', '00000000-0000-0000-0000-000000000000')$$, '23503', 'members_division_id_fkey');
SELECT pg_temp.expect_fail($$INSERT INTO members (service_number, rank, first_name, last_name, division_id, member_type) VALUES ('SN9', 'S1', 'a', 'b', '00000000-0000-0000-0000-00000000d001', 'regular')$$, '23503', 'members_member_type_fkey');
SELECT pg_temp.expect_fail($$INSERT INTO members (service_number, rank, first_name, last_name, division_id, status) VALUES ('SN9', 'S1', 'a', 'b', '00000000-0000-0000-0000-00000000d001', 'deleted')$$, '23503', 'members_status_fkey');
SELECT pg_temp.expect_fail($$INSERT INTO members (service_number, rank, first_name, last_name, division_id, email) VALUES ('SN9', 'S1', 'a', 'b', '00000000-0000-0000-0000-00000000d001', 'not-an-email')$$, '23514', 'members_email_check');
SELECT pg_temp.expect_fail($$INSERT INTO members (service_number, rank, first_name, last_name, division_id) VALUES ('SN9', 'S1', '', 'b', '00000000-0000-0000-0000-00000000d001')$$, '23514', 'members_first_name_check');
SELECT pg_temp.expect_fail($$INSERT INTO members (service_number, rank, first_name, last_name, division_id) VALUES ('123456789012345678901', 'S1', 'a', 'b', '00000000-0000-0000-0000-00000000d001')$$, '23514', 'members_service_number_check');
SELECT pg_temp.expect_fail($$DELETE FROM divisions WHERE code = 'OPS'$$, '23503', 'members_division_id_fkey');
SELECT pg_temp.expect_fail($$DELETE FROM member_types WHERE code = 'class_a'$$, 'SN001', 'system_value');
-- a non-system lookup in use cannot be deleted; re-coding it cascades to members
UPDATE members SET member_type = 'class_b' WHERE service_number = 'SN100003';
SELECT pg_temp.expect_fail($$DELETE FROM member_types WHERE code = 'class_b'$$, '23503', 'members_member_type_fkey');
UPDATE member_types SET code = 'class_b_reserve' WHERE code = 'class_b';
SELECT pg_temp.assert((SELECT member_type FROM members WHERE service_number = 'SN100003') = 'class_b_reserve', 'lookup re-code cascades');
UPDATE member_types SET code = 'class_b' WHERE code = 'class_b_reserve';

-- badges ----------------------------------------------------------------------------------------------------
INSERT INTO badges (id, serial_number) VALUES
    ('00000000-0000-0000-0000-00000000b001', 'AA01'),
    ('00000000-0000-0000-0000-00000000b002', 'AA02'),
    ('00000000-0000-0000-0000-00000000b003', 'AA03');
SELECT pg_temp.assert((SELECT assignment_type || '/' || status FROM badges WHERE serial_number = 'AA01') = 'unassigned/active', 'badge defaults');
SELECT pg_temp.expect_fail($$INSERT INTO badges (serial_number) VALUES ('aa09')$$, '23514', 'badges_serial_number_check');
SELECT pg_temp.expect_fail($$INSERT INTO badges (serial_number) VALUES (' AA09')$$, '23514', 'badges_serial_number_check');
SELECT pg_temp.expect_fail($$INSERT INTO badges (serial_number) VALUES ('')$$, '23514', 'badges_serial_number_check');
SELECT pg_temp.expect_fail($$INSERT INTO badges (serial_number) VALUES ('AA01')$$, '23505', 'badges_serial_number_key');
SELECT pg_temp.expect_fail($$INSERT INTO badges (serial_number, status) VALUES ('AA09', 'disabled')$$, '23503', 'badges_status_fkey');
SELECT pg_temp.expect_fail($$INSERT INTO badges (serial_number, assignment_type) VALUES ('AA09', 'visitor')$$, '23514', 'badges_holder_check');
SELECT pg_temp.expect_fail($$INSERT INTO badges (serial_number, assigned_to_id) VALUES ('AA09', gen_random_uuid())$$, '23514', 'badges_holder_check');
SELECT pg_temp.expect_fail($$INSERT INTO badges (serial_number, assignment_type, assigned_to_id) VALUES ('AA09', 'guest', gen_random_uuid())$$, '23514', 'badges_assignment_type_check');
-- invariant 3: only active badges can be assigned
SELECT pg_temp.expect_fail($$INSERT INTO badges (serial_number, status, assignment_type, assigned_to_id) VALUES ('AA09', 'lost', 'visitor', gen_random_uuid())$$, 'SN003', 'badge_not_assignable');
SELECT pg_temp.expect_ok($$INSERT INTO badges (serial_number, assignment_type, assigned_to_id) VALUES ('VV01', 'visitor', gen_random_uuid())$$);
SELECT pg_temp.expect_fail($$UPDATE badges SET assigned_to_id = gen_random_uuid() WHERE serial_number = 'VV01'$$, 'SN003', 'badge_not_assignable');
SELECT pg_temp.expect_ok($$UPDATE badges SET status = 'damaged' WHERE serial_number = 'VV01'$$);
-- invariant 4: inactive => unassigned
SELECT pg_temp.expect_fail($$UPDATE badges SET status = 'inactive' WHERE serial_number = 'VV01'$$, '23514', 'badges_inactive_unassigned_check');
SELECT pg_temp.expect_ok($$UPDATE badges SET status = 'inactive', assignment_type = 'unassigned', assigned_to_id = NULL WHERE serial_number = 'VV01'$$);
SELECT pg_temp.expect_fail($$UPDATE badges SET assignment_type = 'visitor', assigned_to_id = gen_random_uuid() WHERE serial_number = 'VV01'$$, 'SN003', 'badge_not_assignable');

-- badge linkage (invariant 2) -------------------------------------------------------------------------------
-- both sides in one transaction: OK
SELECT pg_temp.expect_ok($$
    WITH b AS (UPDATE badges SET assignment_type = 'member', assigned_to_id = '00000000-0000-0000-0000-00000000a001'
               WHERE id = '00000000-0000-0000-0000-00000000b001')
    UPDATE members SET badge_id = '00000000-0000-0000-0000-00000000b001' WHERE id = '00000000-0000-0000-0000-00000000a001'$$);
-- only the badge side
SELECT pg_temp.expect_fail($$UPDATE badges SET assignment_type = 'member', assigned_to_id = '00000000-0000-0000-0000-00000000a002' WHERE id = '00000000-0000-0000-0000-00000000b002'$$, 'SN002', 'badge_linkage');
-- only the member side
SELECT pg_temp.expect_fail($$UPDATE members SET badge_id = '00000000-0000-0000-0000-00000000b002' WHERE id = '00000000-0000-0000-0000-00000000a002'$$, 'SN002', 'badge_linkage');
-- member pointing at a badge assigned to someone else
SELECT pg_temp.expect_fail($$UPDATE members SET badge_id = '00000000-0000-0000-0000-00000000b001' WHERE id = '00000000-0000-0000-0000-00000000a002'$$, '23505', 'members_badge_id_key');
-- unassign only the badge: member still points
SELECT pg_temp.expect_fail($$UPDATE badges SET assignment_type = 'unassigned', assigned_to_id = NULL WHERE id = '00000000-0000-0000-0000-00000000b001'$$, 'SN002', 'badge_linkage');
-- clear only the member side: badge still says member
SELECT pg_temp.expect_fail($$UPDATE members SET badge_id = NULL WHERE id = '00000000-0000-0000-0000-00000000a001'$$, 'SN002', 'badge_linkage');
-- a member cannot hold two member badges
SELECT pg_temp.expect_fail($$UPDATE badges SET assignment_type = 'member', assigned_to_id = '00000000-0000-0000-0000-00000000a001' WHERE id = '00000000-0000-0000-0000-00000000b002'$$, '23505', 'badges_member_holder_key');
-- member badge pointing at a non-existent member
SELECT pg_temp.expect_fail($$INSERT INTO badges (serial_number, assignment_type, assigned_to_id) VALUES ('ZZ01', 'member', gen_random_uuid())$$, 'SN002', 'badge_linkage');
-- hard-deleting the member while the badge still names them
SELECT pg_temp.expect_fail($$DELETE FROM members WHERE id = '00000000-0000-0000-0000-00000000a001'$$, 'SN002', 'badge_linkage');
-- unassign + re-assign to the same member in one transaction is fine
SELECT pg_temp.expect_ok($$
    WITH b AS (UPDATE badges SET assignment_type = 'unassigned', assigned_to_id = NULL WHERE id = '00000000-0000-0000-0000-00000000b001')
    UPDATE members SET badge_id = NULL WHERE id = '00000000-0000-0000-0000-00000000a001'$$);
SELECT pg_temp.expect_ok($$
    WITH b AS (UPDATE badges SET assignment_type = 'member', assigned_to_id = '00000000-0000-0000-0000-00000000a001'
               WHERE id = '00000000-0000-0000-0000-00000000b001')
    UPDATE members SET badge_id = '00000000-0000-0000-0000-00000000b001' WHERE id = '00000000-0000-0000-0000-00000000a001'$$);
-- lost badges keep their holder
SELECT pg_temp.expect_ok($$UPDATE badges SET status = 'lost' WHERE id = '00000000-0000-0000-0000-00000000b001'$$);
SELECT pg_temp.expect_ok($$UPDATE badges SET status = 'active' WHERE id = '00000000-0000-0000-0000-00000000b001'$$);

-- check-ins and presence ------------------------------------------------------------------------------------
SELECT pg_temp.expect_fail($$INSERT INTO checkins (member_id, direction, kiosk_id) VALUES ('00000000-0000-0000-0000-00000000a001', 'IN', 'k1')$$, '23514', 'checkins_direction_check');
SELECT pg_temp.expect_fail($$INSERT INTO checkins (member_id, direction, kiosk_id, method) VALUES ('00000000-0000-0000-0000-00000000a001', 'in', 'k1', 'magic')$$, '23514', 'checkins_method_check');
SELECT pg_temp.expect_fail($$INSERT INTO checkins (member_id, direction, kiosk_id) VALUES (NULL, 'in', 'k1')$$, '23502');
SELECT pg_temp.expect_fail($$INSERT INTO checkins (member_id, direction, kiosk_id) VALUES ('00000000-0000-0000-0000-00000000a001', 'in', '')$$, '23514', 'checkins_kiosk_id_check');
INSERT INTO checkins (id, member_id, badge_id, direction, "timestamp", kiosk_id, client_ref) VALUES
    ('00000000-0000-0000-0000-0000000c0001', '00000000-0000-0000-0000-00000000a001', '00000000-0000-0000-0000-00000000b001', 'in', now() - interval '2 hours', 'k1', 'r1');
SELECT pg_temp.expect_fail($$INSERT INTO checkins (member_id, direction, kiosk_id, client_ref) VALUES ('00000000-0000-0000-0000-00000000a002', 'in', 'k1', 'r1')$$, '23505', 'checkins_kiosk_id_client_ref_key');
SELECT pg_temp.expect_ok($$INSERT INTO checkins (member_id, direction, kiosk_id, client_ref) VALUES ('00000000-0000-0000-0000-00000000a002', 'in', 'k2', 'r1')$$);
SELECT pg_temp.expect_fail($$DELETE FROM members WHERE id = '00000000-0000-0000-0000-00000000a002'$$, '23503', 'checkins_member_id_fkey');
INSERT INTO checkins (member_id, badge_id, direction, "timestamp", kiosk_id) VALUES
    ('00000000-0000-0000-0000-00000000a002', '00000000-0000-0000-0000-00000000b002', 'out', now() - interval '5 hours', 'k2');
SELECT pg_temp.expect_fail($$DELETE FROM badges WHERE id = '00000000-0000-0000-0000-00000000b002'$$, '23503', 'checkins_badge_id_fkey');
SELECT pg_temp.assert((SELECT direction FROM member_presence WHERE member_id = '00000000-0000-0000-0000-00000000a001') = 'in', 'presence after in');
SELECT pg_temp.assert((SELECT count(*) FROM present_members) = 2, 'two present');
-- a back-dated (offline) out older than the latest does not change presence
INSERT INTO checkins (member_id, direction, "timestamp", kiosk_id) VALUES
    ('00000000-0000-0000-0000-00000000a001', 'out', now() - interval '3 hours', 'k1');
SELECT pg_temp.assert((SELECT direction FROM member_presence WHERE member_id = '00000000-0000-0000-0000-00000000a001') = 'in', 'older out ignored');
-- a later out does
INSERT INTO checkins (id, member_id, direction, "timestamp", kiosk_id) VALUES
    ('00000000-0000-0000-0000-0000000c0002', '00000000-0000-0000-0000-00000000a001', 'out', now() - interval '1 hour', 'k1');
SELECT pg_temp.assert((SELECT direction FROM member_presence WHERE member_id = '00000000-0000-0000-0000-00000000a001') = 'out', 'later out counts');
-- equal timestamps: later created_at wins
INSERT INTO checkins (member_id, direction, "timestamp", kiosk_id, created_at) VALUES
    ('00000000-0000-0000-0000-00000000a001', 'in', now() - interval '1 hour', 'k1', now() + interval '1 second');
SELECT pg_temp.assert((SELECT direction FROM member_presence WHERE member_id = '00000000-0000-0000-0000-00000000a001') = 'in', 'tie broken by created_at');
-- admin edit of the latest direction
UPDATE checkins SET direction = 'out' WHERE member_id = '00000000-0000-0000-0000-00000000a001' AND direction = 'in' AND kiosk_id = 'k1' AND client_ref IS NULL;
SELECT pg_temp.assert((SELECT direction FROM member_presence WHERE member_id = '00000000-0000-0000-0000-00000000a001') = 'out', 'edit recomputes');
-- deleting the latest falls back to the previous one
DELETE FROM checkins WHERE member_id = '00000000-0000-0000-0000-00000000a001' AND "timestamp" = now() - interval '1 hour';
SELECT pg_temp.assert((SELECT last_checkin_id FROM member_presence WHERE member_id = '00000000-0000-0000-0000-00000000a001') = '00000000-0000-0000-0000-0000000c0001', 'delete falls back');
-- moving a check-in to another member recomputes both
UPDATE checkins SET member_id = '00000000-0000-0000-0000-00000000a003' WHERE id = '00000000-0000-0000-0000-0000000c0001';
SELECT pg_temp.assert((SELECT direction FROM member_presence WHERE member_id = '00000000-0000-0000-0000-00000000a001') = 'out', 'moved away');
SELECT pg_temp.assert((SELECT direction FROM member_presence WHERE member_id = '00000000-0000-0000-0000-00000000a003') = 'in', 'moved to');
-- deleting all of a member's check-ins removes the presence row
DELETE FROM checkins WHERE member_id = '00000000-0000-0000-0000-00000000a003';
SELECT pg_temp.assert(NOT EXISTS (SELECT 1 FROM member_presence WHERE member_id = '00000000-0000-0000-0000-00000000a003'), 'no check-ins, no row');
-- bulk insert in one statement
INSERT INTO checkins (member_id, direction, "timestamp", kiosk_id)
SELECT '00000000-0000-0000-0000-00000000a003', CASE WHEN g % 2 = 0 THEN 'in' ELSE 'out' END, now() - g * interval '1 minute', 'k3'
FROM generate_series(1, 50) g;
SELECT pg_temp.assert((SELECT direction FROM member_presence WHERE member_id = '00000000-0000-0000-0000-00000000a003') = 'out', 'bulk: latest (g=1) is out');
-- inactive members are never present
UPDATE members SET status = 'inactive' WHERE id = '00000000-0000-0000-0000-00000000a002';
SELECT pg_temp.assert(NOT EXISTS (SELECT 1 FROM present_members WHERE member_id = '00000000-0000-0000-0000-00000000a002'), 'inactive not present');
UPDATE members SET status = 'active' WHERE id = '00000000-0000-0000-0000-00000000a002';
SELECT pg_temp.assert(NOT EXISTS (
    (SELECT member_id, direction, last_checkin_id, since FROM member_presence
     EXCEPT SELECT member_id, direction, last_checkin_id, since FROM member_presence_derived)
    UNION ALL
    (SELECT member_id, direction, last_checkin_id, since FROM member_presence_derived
     EXCEPT SELECT member_id, direction, last_checkin_id, since FROM member_presence)), 'materialised = derived');
SET CONSTRAINTS ALL IMMEDIATE;
SET CONSTRAINTS ALL DEFERRED;

-- events ----------------------------------------------------------------------------------------------------
INSERT INTO events (id, name, code, start_date, end_date) VALUES
    ('00000000-0000-0000-0000-00000000e001', 'Mess Dinner', 'MD-2026', '2026-06-01', '2026-06-01');
SELECT pg_temp.expect_fail($$INSERT INTO events (name, code, start_date, end_date) VALUES ('x', 'MD-2026', '2026-06-01', '2026-06-01')$$, '23505', 'events_code_key');
SELECT pg_temp.expect_fail($$INSERT INTO events (name, code, start_date, end_date) VALUES ('x', 'X1', '2026-06-02', '2026-06-01')$$, '23514', 'events_dates_check');
SELECT pg_temp.expect_fail($$INSERT INTO events (name, code, start_date, end_date, status) VALUES ('x', 'X1', '2026-06-01', '2026-06-01', 'open')$$, '23514', 'events_status_check');
SELECT pg_temp.expect_fail($$INSERT INTO events (name, code, start_date, end_date, custom_roles) VALUES ('x', 'X1', '2026-06-01', '2026-06-01', '[]')$$, '23514', 'events_custom_roles_check');
SELECT pg_temp.expect_fail($$UPDATE events SET status = 'completed' WHERE code = 'MD-2026'$$, 'SN004', 'invalid_transition');
UPDATE events SET status = 'active' WHERE code = 'MD-2026';
UPDATE events SET status = 'completed' WHERE code = 'MD-2026';
UPDATE events SET status = 'completed' WHERE code = 'MD-2026';
SELECT pg_temp.expect_fail($$UPDATE events SET status = 'cancelled' WHERE code = 'MD-2026'$$, 'SN004', 'invalid_transition');
SELECT pg_temp.expect_fail($$UPDATE events SET status = 'active' WHERE code = 'MD-2026'$$, 'SN004', 'invalid_transition');
INSERT INTO event_attendees (id, event_id, name, organization, role) VALUES
    ('00000000-0000-0000-0000-0000000ea001', '00000000-0000-0000-0000-00000000e001', 'Guest One', 'HMCS Other', 'participant');
SELECT pg_temp.expect_fail($$INSERT INTO event_attendees (event_id, name, organization, role, status) VALUES ('00000000-0000-0000-0000-00000000e001', 'x', 'y', 'z', 'active')$$, '23514', 'event_attendees_status_check');
SELECT pg_temp.expect_fail($$INSERT INTO event_attendees (event_id, name, organization, role) VALUES ('00000000-0000-0000-0000-00000000e001', 'x', '', 'z')$$, '23514', 'event_attendees_organization_check');
SELECT pg_temp.expect_fail($$INSERT INTO event_attendees (event_id, name, organization, role, badge_assigned_at) VALUES ('00000000-0000-0000-0000-00000000e001', 'x', 'y', 'z', now())$$, '23514', 'event_attendees_badge_assigned_at_check');
-- event badge: holder is the attendee
UPDATE badges SET assignment_type = 'event', assigned_to_id = '00000000-0000-0000-0000-0000000ea001' WHERE id = '00000000-0000-0000-0000-00000000b003';
UPDATE event_attendees SET badge_id = '00000000-0000-0000-0000-00000000b003', badge_assigned_at = now() WHERE id = '00000000-0000-0000-0000-0000000ea001';
INSERT INTO event_checkins (event_attendee_id, badge_id, direction, kiosk_id) VALUES
    ('00000000-0000-0000-0000-0000000ea001', '00000000-0000-0000-0000-00000000b003', 'in', 'k1');
SELECT pg_temp.expect_fail($$INSERT INTO event_checkins (event_attendee_id, badge_id, direction, kiosk_id) VALUES ('00000000-0000-0000-0000-0000000ea001', '00000000-0000-0000-0000-00000000b003', 'sideways', 'k1')$$, '23514', 'event_checkins_direction_check');
SELECT pg_temp.expect_fail($$DELETE FROM badges WHERE id = '00000000-0000-0000-0000-00000000b003'$$, '23503');

-- visitors --------------------------------------------------------------------------------------------------
INSERT INTO visitors (id, name, visit_type, kiosk_id, event_id, host_member_id) VALUES
    ('00000000-0000-0000-0000-0000000f0001', 'Val Visitor', 'guest', 'k1', '00000000-0000-0000-0000-00000000e001', '00000000-0000-0000-0000-00000000a002');
SELECT pg_temp.assert((SELECT check_in_method FROM visitors WHERE name = 'Val Visitor') = 'kiosk', 'visitor default method');
SELECT pg_temp.expect_fail($$INSERT INTO visitors (name, visit_type, kiosk_id) VALUES ('x', 'tourist', 'k1')$$, '23503', 'visitors_visit_type_fkey');
SELECT pg_temp.expect_fail($$INSERT INTO visitors (name, visit_type, kiosk_id, check_in_method) VALUES ('x', 'guest', 'k1', 'web')$$, '23514', 'visitors_check_in_method_check');
SELECT pg_temp.expect_fail($$INSERT INTO visitors (name, visit_type, kiosk_id, check_in_time, check_out_time) VALUES ('x', 'guest', 'k1', now(), now() - interval '1 minute')$$, '23514', 'visitors_check_out_time_check');
SELECT pg_temp.expect_fail($$INSERT INTO visitors (name, visit_type, kiosk_id) VALUES ('', 'guest', 'k1')$$, '23514', 'visitors_name_check');
SELECT pg_temp.expect_fail($$DELETE FROM visit_types WHERE code = 'guest'$$, '23503', 'visitors_visit_type_fkey');
SELECT pg_temp.expect_fail($$DELETE FROM members WHERE id = '00000000-0000-0000-0000-00000000a002'$$, '23503');
-- deleting the event keeps the visit, cascades attendees and their check-ins
DELETE FROM events WHERE id = '00000000-0000-0000-0000-00000000e001';
SELECT pg_temp.assert((SELECT event_id FROM visitors WHERE name = 'Val Visitor') IS NULL, 'visitor event set null');
SELECT pg_temp.assert(NOT EXISTS (SELECT 1 FROM event_checkins), 'event check-ins cascaded');

-- tags ------------------------------------------------------------------------------------------------------
SELECT pg_temp.assert((SELECT is_system AND single_holder FROM tags WHERE name = 'Lockup'), 'Lockup seeded as system single-holder tag');
SELECT pg_temp.assert((SELECT count(*) FROM tags) = 7, 'seeded tags');
SELECT pg_temp.expect_fail($$DELETE FROM tags WHERE name = 'Lockup'$$, 'SN001', 'system_value');
SELECT pg_temp.expect_fail($$UPDATE tags SET name = 'Lock-up' WHERE name = 'Lockup'$$, 'SN001', 'system_value');
SELECT pg_temp.expect_fail($$UPDATE tags SET single_holder = false WHERE name = 'Lockup'$$, 'SN001', 'system_value');
SELECT pg_temp.expect_ok($$UPDATE tags SET color = '#000000', description = 'x', display_order = 9 WHERE name = 'Lockup'$$);
SELECT pg_temp.expect_fail($$INSERT INTO tags (name, color) VALUES ('Lockup', '#fff')$$, '23505', 'tags_name_key');
SELECT pg_temp.expect_ok($$INSERT INTO tags (name, color) VALUES ('lockup', '#fff')$$);
INSERT INTO member_tags (member_id, tag_id) SELECT '00000000-0000-0000-0000-00000000a001', id FROM tags WHERE name = 'Lockup';
SELECT pg_temp.expect_fail($$INSERT INTO member_tags (member_id, tag_id) SELECT '00000000-0000-0000-0000-00000000a002', id FROM tags WHERE name = 'Lockup'$$, '23505', 'member_tags_single_holder_key');
SELECT pg_temp.expect_fail($$INSERT INTO member_tags (member_id, tag_id, single_holder) SELECT '00000000-0000-0000-0000-00000000a002', id, false FROM tags WHERE name = 'Lockup'$$, '23505', 'member_tags_single_holder_key');
SELECT pg_temp.expect_fail($$INSERT INTO member_tags (member_id, tag_id) SELECT '00000000-0000-0000-0000-00000000a001', id FROM tags WHERE name = 'Lockup'$$, '23505', 'member_tags_member_id_tag_id_key');
-- transfer = delete + insert in one transaction
SELECT pg_temp.expect_ok($$
    WITH d AS (DELETE FROM member_tags WHERE tag_id = (SELECT id FROM tags WHERE name = 'Lockup'))
    SELECT 1$$);
INSERT INTO member_tags (member_id, tag_id) SELECT '00000000-0000-0000-0000-00000000a002', id FROM tags WHERE name = 'Lockup';
-- ordinary tags: many holders; turning single_holder on with two holders fails
INSERT INTO member_tags (member_id, tag_id) SELECT m, id FROM tags, unnest(ARRAY['00000000-0000-0000-0000-00000000a001', '00000000-0000-0000-0000-00000000a002']::uuid[]) m WHERE name = 'first_aid';
SELECT pg_temp.expect_fail($$UPDATE tags SET single_holder = true WHERE name = 'first_aid'$$, '23505', 'member_tags_single_holder_key');
SELECT pg_temp.expect_ok($$UPDATE tags SET single_holder = true WHERE name = 'BMQ'$$);
-- deleting a tag cascades its holders
SELECT pg_temp.expect_ok($$DELETE FROM tags WHERE name = 'first_aid'$$);
SELECT pg_temp.assert((SELECT count(*) FROM member_tags) = 1, 'tag delete cascades');

-- responsibility audit log ----------------------------------------------------------------------------------
INSERT INTO responsibility_audit_log (id, member_id, tag_name, action, performed_by_type) VALUES
    ('00000000-0000-0000-0000-0000000aa001', '00000000-0000-0000-0000-00000000a002', 'Lockup', 'assigned', 'admin');
SELECT pg_temp.expect_fail($$INSERT INTO responsibility_audit_log (member_id, tag_name, action, performed_by_type) VALUES (gen_random_uuid(), 'lockup', 'assigned', 'admin')$$, '23514', 'responsibility_audit_log_tag_name_check');
SELECT pg_temp.expect_fail($$INSERT INTO responsibility_audit_log (member_id, tag_name, action, performed_by_type) VALUES (gen_random_uuid(), 'DDS', 'stolen', 'admin')$$, '23514', 'responsibility_audit_log_action_check');
SELECT pg_temp.expect_fail($$INSERT INTO responsibility_audit_log (member_id, tag_name, action, performed_by_type) VALUES (gen_random_uuid(), 'DDS', 'assigned', 'kiosk')$$, '23514', 'responsibility_audit_log_performed_by_type_check');
SELECT pg_temp.expect_fail($$UPDATE responsibility_audit_log SET notes = 'x'$$, 'SN005', 'append_only');
SELECT pg_temp.expect_fail($$DELETE FROM responsibility_audit_log$$, 'SN005', 'append_only');

-- DDS -------------------------------------------------------------------------------------------------------
INSERT INTO dds_assignments (member_id, assigned_date, status, accepted_at) VALUES
    ('00000000-0000-0000-0000-00000000a001', '2026-01-23', 'active', now());
SELECT pg_temp.expect_fail($$INSERT INTO dds_assignments (member_id, assigned_date) VALUES ('00000000-0000-0000-0000-00000000a002', '2026-01-23')$$, '23505', 'dds_assignments_current_key');
SELECT pg_temp.expect_fail($$INSERT INTO dds_assignments (member_id, assigned_date, status, released_at) VALUES ('00000000-0000-0000-0000-00000000a002', '2026-01-24', 'done', now())$$, '23514', 'dds_assignments_status_check');
SELECT pg_temp.expect_fail($$INSERT INTO dds_assignments (member_id, assigned_date, status) VALUES ('00000000-0000-0000-0000-00000000a002', '2026-01-24', 'released')$$, '23514', 'dds_assignments_released_at_check');
SELECT pg_temp.expect_fail($$INSERT INTO dds_assignments (member_id, assigned_date, released_at) VALUES ('00000000-0000-0000-0000-00000000a002', '2026-01-24', now())$$, '23514', 'dds_assignments_released_at_check');
-- transfer: close old, open new
SELECT pg_temp.expect_ok($$
    WITH old AS (UPDATE dds_assignments SET status = 'transferred', transferred_to = '00000000-0000-0000-0000-00000000a002', released_at = now()
                 WHERE assigned_date = '2026-01-23' AND status IN ('pending', 'active'))
    SELECT 1$$);
INSERT INTO dds_assignments (member_id, assigned_date, status, accepted_at) VALUES
    ('00000000-0000-0000-0000-00000000a002', '2026-01-23', 'active', now());
SELECT pg_temp.expect_fail($$DELETE FROM members WHERE id = '00000000-0000-0000-0000-00000000a001'$$, '23503');

-- lockup executions -----------------------------------------------------------------------------------------
INSERT INTO lockup_executions (executed_by, operational_date, members_checked_out, total_checked_out, audit_log_id) VALUES
    ('00000000-0000-0000-0000-00000000a002', '2026-01-23', '[{"id": "x", "name": "y"}]', 1, '00000000-0000-0000-0000-0000000aa001');
SELECT pg_temp.expect_fail($$INSERT INTO lockup_executions (executed_by, operational_date, members_checked_out) VALUES ('00000000-0000-0000-0000-00000000a002', '2026-01-23', '{}')$$, '23514', 'lockup_executions_members_checked_out_check');
SELECT pg_temp.expect_fail($$INSERT INTO lockup_executions (executed_by, operational_date, total_checked_out) VALUES ('00000000-0000-0000-0000-00000000a002', '2026-01-23', -1)$$, '23514', 'lockup_executions_total_checked_out_check');
SELECT pg_temp.expect_fail($$UPDATE lockup_executions SET notes = 'x'$$, 'SN005', 'append_only');
SELECT pg_temp.expect_fail($$DELETE FROM lockup_executions$$, 'SN005', 'append_only');

-- users -----------------------------------------------------------------------------------------------------
INSERT INTO users (id, email, username, display_name, password_hash, role, member_id) VALUES
    ('00000000-0000-0000-0000-000000000e01', 'Admin@Example.org', 'admin', 'Admin', '$argon2id$x', 'admin', '00000000-0000-0000-0000-00000000a001');
SELECT pg_temp.assert((SELECT role FROM users WHERE lower(email) = 'admin@example.org') = 'admin', 'ci email lookup');
SELECT pg_temp.expect_fail($$INSERT INTO users (email, display_name, password_hash) VALUES ('admin@EXAMPLE.org', 'x', 'h')$$, '23505', 'users_email_key');
SELECT pg_temp.expect_fail($$INSERT INTO users (email, username, display_name, password_hash) VALUES ('b@example.org', 'ADMIN', 'x', 'h')$$, '23505', 'users_username_key');
SELECT pg_temp.expect_fail($$INSERT INTO users (email, username, display_name, password_hash) VALUES ('b@example.org', 'ab', 'x', 'h')$$, '23514', 'users_username_check');
SELECT pg_temp.expect_fail($$INSERT INTO users (email, username, display_name, password_hash) VALUES ('b@example.org', 'a b c', 'x', 'h')$$, '23514', 'users_username_check');
SELECT pg_temp.expect_fail($$INSERT INTO users (email, display_name, password_hash, role) VALUES ('b@example.org', 'x', 'h', 'root')$$, '23514', 'users_role_check');
SELECT pg_temp.expect_fail($$INSERT INTO users (email, display_name, password_hash) VALUES ('nope', 'x', 'h')$$, '23514', 'users_email_check');
SELECT pg_temp.expect_fail($$INSERT INTO users (email, display_name, password_hash, member_id) VALUES ('b@example.org', 'x', 'h', '00000000-0000-0000-0000-00000000a001')$$, '23505', 'users_member_id_key');
SELECT pg_temp.expect_fail($$INSERT INTO users (email, display_name, password_hash, disabled) VALUES ('b@example.org', 'x', 'h', true)$$, '23514', 'users_disabled_at_check');
SELECT pg_temp.assert((SELECT role FROM users WHERE username = 'admin') = 'admin', 'user inserted');
INSERT INTO users (id, email, display_name, password_hash) VALUES
    ('00000000-0000-0000-0000-000000000e02', 'qm@example.org', 'QM', 'h');
SELECT pg_temp.assert((SELECT role FROM users WHERE email = 'qm@example.org') = 'quartermaster', 'default role');
SELECT pg_temp.expect_ok($$UPDATE users SET disabled = true, disabled_at = now(), disabled_by = (SELECT id FROM users WHERE username = 'admin') WHERE email = 'qm@example.org'$$);
SELECT pg_temp.expect_fail($$UPDATE users SET disabled = false, disabled_at = NULL WHERE email = 'qm@example.org'$$, '23514', 'users_disabled_by_check');

-- sessions, api keys, kiosk status --------------------------------------------------------------------------
INSERT INTO sessions (user_id, token_hash, expires_at) VALUES ((SELECT id FROM users WHERE username = 'admin'), repeat('a', 64), now() + interval '7 days');
SELECT pg_temp.expect_fail($$INSERT INTO sessions (user_id, token_hash, expires_at) VALUES ((SELECT id FROM users WHERE username = 'admin'), repeat('a', 64), now())$$, '23505', 'sessions_token_hash_key');
SELECT pg_temp.expect_fail($$INSERT INTO sessions (user_id, token_hash, expires_at, kind) VALUES ((SELECT id FROM users WHERE username = 'admin'), 'b', now(), 'oauth')$$, '23514', 'sessions_kind_check');
SELECT pg_temp.expect_fail($$INSERT INTO sessions (user_id, token_hash) VALUES ((SELECT id FROM users WHERE username = 'admin'), 'c')$$, '23502');
INSERT INTO api_keys (id, name, kind, kiosk_id, key_hash, key_prefix, scopes) VALUES
    ('00000000-0000-0000-0000-0000000a0001', 'Main entrance kiosk', 'kiosk', 'main-entrance', 'h1', 'sk_abcd', '{checkins:write}');
SELECT pg_temp.assert((SELECT expires_at - created_at FROM api_keys WHERE key_hash = 'h1') = interval '365 days', 'key expiry default');
SELECT pg_temp.expect_fail($$INSERT INTO api_keys (name, kind, kiosk_id, key_hash, key_prefix) VALUES ('k', 'kiosk', 'main-entrance', 'h2', 'sk_x')$$, '23505', 'api_keys_active_kiosk_id_key');
SELECT pg_temp.expect_fail($$INSERT INTO api_keys (name, kind, key_hash, key_prefix) VALUES ('k', 'kiosk', 'h2', 'sk_x')$$, '23514', 'api_keys_kiosk_id_check');
SELECT pg_temp.expect_fail($$INSERT INTO api_keys (name, kind, kiosk_id, key_hash, key_prefix) VALUES ('k', 'display', 'tv', 'h2', 'sk_x')$$, '23514', 'api_keys_kiosk_id_check');
SELECT pg_temp.expect_fail($$INSERT INTO api_keys (name, kind, key_hash, key_prefix) VALUES ('k', 'admin', 'h2', 'sk_x')$$, '23514', 'api_keys_kind_check');
SELECT pg_temp.expect_fail($$INSERT INTO api_keys (name, kind, key_hash, key_prefix) VALUES ('k', 'display', 'h1', 'sk_x')$$, '23505', 'api_keys_key_hash_key');
SELECT pg_temp.expect_fail($$INSERT INTO api_keys (name, kind, key_hash, key_prefix) VALUES ('k', 'display', 'h2', 'sk_0123456789')$$, '23514', 'api_keys_key_prefix_check');
UPDATE api_keys SET revoked_at = now() WHERE key_hash = 'h1';
SELECT pg_temp.expect_ok($$INSERT INTO api_keys (name, kind, kiosk_id, key_hash, key_prefix) VALUES ('k', 'kiosk', 'main-entrance', 'h2', 'sk_x')$$);
INSERT INTO kiosk_status (kiosk_id, api_key_id, queue_size, app_version) VALUES ('main-entrance', '00000000-0000-0000-0000-0000000a0001', 0, '1.2.3');
SELECT pg_temp.expect_fail($$INSERT INTO kiosk_status (kiosk_id, queue_size) VALUES ('side', -1)$$, '23514', 'kiosk_status_queue_size_check');

-- security alerts -------------------------------------------------------------------------------------------
INSERT INTO security_alerts (id, alert_type, severity, kiosk_id, message, member_id) VALUES
    ('00000000-0000-0000-0000-0000000a1e01', 'badge_unknown', 'warning', 'k1', 'Unknown badge', gen_random_uuid());
SELECT pg_temp.expect_fail($$INSERT INTO security_alerts (alert_type, severity, kiosk_id, message) VALUES ('fire', 'warning', 'k1', 'x')$$, '23514', 'security_alerts_alert_type_check');
SELECT pg_temp.expect_fail($$INSERT INTO security_alerts (alert_type, severity, kiosk_id, message) VALUES ('system', 'high', 'SYSTEM', 'x')$$, '23514', 'security_alerts_severity_check');
SELECT pg_temp.expect_fail($$INSERT INTO security_alerts (alert_type, severity, kiosk_id, message) VALUES ('system', 'info', 'SYSTEM', '')$$, '23514', 'security_alerts_message_check');
SELECT pg_temp.expect_fail($$UPDATE security_alerts SET status = 'acknowledged' WHERE id = '00000000-0000-0000-0000-0000000a1e01'$$, '23514', 'security_alerts_acknowledgement_check');
SELECT pg_temp.expect_fail($$UPDATE security_alerts SET acknowledged_at = now() WHERE id = '00000000-0000-0000-0000-0000000a1e01'$$, '23514', 'security_alerts_acknowledgement_check');
UPDATE security_alerts SET status = 'acknowledged', acknowledged_at = now(), acknowledged_by = (SELECT id FROM users WHERE username = 'admin'), acknowledge_note = 'seen'
WHERE id = '00000000-0000-0000-0000-0000000a1e01';
SELECT pg_temp.expect_fail($$UPDATE security_alerts SET status = 'dismissed' WHERE id = '00000000-0000-0000-0000-0000000a1e01'$$, 'SN004', 'invalid_transition');
SELECT pg_temp.expect_fail($$UPDATE security_alerts SET status = 'active', acknowledged_at = NULL, acknowledged_by = NULL, acknowledge_note = NULL WHERE id = '00000000-0000-0000-0000-0000000a1e01'$$, 'SN004', 'invalid_transition');

-- audit log -------------------------------------------------------------------------------------------------
INSERT INTO audit_log (admin_user_id, action, entity_type, entity_id, details, ip_address) VALUES
    ((SELECT id FROM users WHERE username = 'admin'), 'member_update', 'member', '00000000-0000-0000-0000-00000000a001', '{"before": {}}', '10.0.0.1');
SELECT pg_temp.expect_fail($$INSERT INTO audit_log (action, entity_type) VALUES ('member_update', 'spaceship')$$, '23514', 'audit_log_entity_type_check');
SELECT pg_temp.expect_fail($$INSERT INTO audit_log (action, entity_type) VALUES ('Member Update', 'member')$$, '23514', 'audit_log_action_check');
SELECT pg_temp.expect_fail($$INSERT INTO audit_log (action, entity_type, ip_address) VALUES ('login', 'admin_user', 'not-an-ip')$$, '22P02');
SELECT pg_temp.expect_fail($$UPDATE audit_log SET action = 'member_delete'$$, 'SN005', 'append_only');
SELECT pg_temp.expect_fail($$DELETE FROM audit_log$$, 'SN005', 'append_only');
-- deleting a user clears the actor of their audit rows (the only permitted change) and cascades sessions
UPDATE security_alerts SET acknowledged_by = acknowledged_by;
DELETE FROM users WHERE username = 'admin';
SELECT pg_temp.assert((SELECT admin_user_id FROM audit_log WHERE action = 'member_update') IS NULL, 'audit actor set null');
SELECT pg_temp.assert((SELECT acknowledged_by FROM security_alerts WHERE id = '00000000-0000-0000-0000-0000000a1e01') IS NULL, 'alert acknowledger set null');
SELECT pg_temp.assert(NOT EXISTS (SELECT 1 FROM sessions), 'sessions cascaded');

SET CONSTRAINTS ALL IMMEDIATE;
\echo constraints smoke: OK
ROLLBACK;
