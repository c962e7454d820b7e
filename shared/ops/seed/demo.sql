-- Demo data for a fresh Sentinel database. Idempotent: every statement inserts only what is missing
-- (matched on natural keys: division code, service number, badge serial, visitor name, event code,
-- attendee name within the event) and never changes existing rows. Run inside one transaction
-- (sentinel_ops::seed::seed_demo does); the member <-> badge links are checked at commit.

CREATE TEMP TABLE demo_members (
    service_number text PRIMARY KEY,
    rank           text NOT NULL,
    first_name     text NOT NULL,
    last_name      text NOT NULL,
    initials       text,
    division_code  text NOT NULL,
    member_type    text NOT NULL,
    status         text NOT NULL,
    mess           text,
    moc            text,
    email          text,
    mobile_phone   text,
    badge_serial   text NOT NULL
) ON COMMIT DROP;

INSERT INTO demo_members VALUES
    ('K48213907', 'Cdr',     'Sarah',   'Mitchell',  'J', 'ADMIN', 'class_b',   'active', 'Wardroom',     'Naval Warfare Officer',   'sarah.mitchell@demo.sentinel.local',   '204-555-0101', '04A10001'),
    ('M31577240', 'LCdr',    'James',   'Okafor',    NULL, 'OPS',  'class_a',   'active', 'Wardroom',     'Naval Warfare Officer',   'james.okafor@demo.sentinel.local',     '204-555-0102', '04A10002'),
    ('B90412386', 'Lt(N)',   'Emily',   'Tremblay',  'R', 'TRG',   'class_a',   'active', 'Wardroom',     'Logistics Officer',       'emily.tremblay@demo.sentinel.local',   '204-555-0103', '04A10003'),
    ('C27765013', 'SLt',     'Daniel',  'Nguyen',    NULL, 'OPS',  'class_a',   'active', 'Wardroom',     'Naval Warfare Officer',   'daniel.nguyen@demo.sentinel.local',    NULL,           '04A10004'),
    ('D55301874', 'CPO1',    'Robert',  'MacDonald', 'A', 'ADMIN', 'reg_force', 'active', 'Senior Ranks', 'Boatswain',               'robert.macdonald@demo.sentinel.local', '204-555-0105', '04A10005'),
    ('E68124459', 'CPO2',    'Linda',   'Chartrand', NULL, 'LOG',  'class_b',   'active', 'Senior Ranks', 'Supply Technician',       'linda.chartrand@demo.sentinel.local',  '204-555-0106', '04A10006'),
    ('F14473902', 'PO1',     'Marc',    'Gagnon',    'P', 'OPS',   'class_a',   'active', 'Senior Ranks', 'Naval Communicator',      'marc.gagnon@demo.sentinel.local',      '204-555-0107', '04A10007'),
    ('G70938215', 'PO2',     'Aisha',   'Rahman',    NULL, 'TRG',  'class_a',   'active', 'Senior Ranks', 'Naval Combat Information Operator', 'aisha.rahman@demo.sentinel.local', '204-555-0108', '04A10008'),
    ('H23019647', 'PO2',     'Kevin',   'Fraser',    NULL, 'LOG',  'class_a',   'active', 'Senior Ranks', 'Marine Technician',       'kevin.fraser@demo.sentinel.local',     NULL,           '04A10009'),
    ('J86542130', 'MS',      'Olivia',  'Bergeron',  'M', 'OPS',   'class_a',   'active', 'Junior Ranks', 'Boatswain',               'olivia.bergeron@demo.sentinel.local',  '204-555-0110', '04A10010'),
    ('L41207768', 'MS',      'Tyler',   'Campbell',  NULL, 'TRG',  'class_a',   'active', 'Junior Ranks', 'Naval Communicator',      'tyler.campbell@demo.sentinel.local',   NULL,           '04A10011'),
    ('N59830421', 'S1',      'Priya',   'Sharma',    NULL, 'OPS',  'class_a',   'active', 'Junior Ranks', 'Naval Combat Information Operator', 'priya.sharma@demo.sentinel.local', '204-555-0112', '04A10012'),
    ('P32674105', 'S1',      'Jordan',  'White',     'L', 'LOG',   'class_a',   'active', 'Junior Ranks', 'Cook',                    'jordan.white@demo.sentinel.local',     NULL,           '04A10013'),
    ('R17058893', 'S1',      'Hannah',  'Leblanc',   NULL, 'ADMIN','class_a',   'active', 'Junior Ranks', 'Resource Management Support Clerk', 'hannah.leblanc@demo.sentinel.local', '204-555-0114', '04A10014'),
    ('S94416327', 'S2',      'Lucas',   'Martin',    NULL, 'OPS',  'class_a',   'active', 'Junior Ranks', 'Boatswain',               'lucas.martin@demo.sentinel.local',     NULL,           '04A10015'),
    ('T60285714', 'S2',      'Chloe',   'Roy',       'E', 'TRG',   'class_a',   'active', 'Junior Ranks', 'Naval Communicator',      'chloe.roy@demo.sentinel.local',        '204-555-0116', '04A10016'),
    ('U38827056', 'S2',      'Ethan',   'Wilson',    NULL, 'LOG',  'class_c',   'active', 'Junior Ranks', 'Supply Technician',       'ethan.wilson@demo.sentinel.local',     NULL,           '04A10017'),
    ('V25193648', 'S3',      'Maya',    'Singh',     NULL, 'TRG',  'class_a',   'active', 'Junior Ranks', 'Boatswain',               'maya.singh@demo.sentinel.local',       NULL,           '04A10018'),
    ('W73640281', 'S3',      'Noah',    'Thompson',  'J', 'OPS',   'class_a',   'active', 'Junior Ranks', 'Marine Technician',       'noah.thompson@demo.sentinel.local',    '204-555-0119', '04A10019'),
    ('X50917432', 'AB',      'Patrick', 'O''Neil',   NULL, 'LOG',  'class_a',   'leave',  'Junior Ranks', 'Cook',                    'patrick.oneil@demo.sentinel.local',    NULL,           '04A10020');

-- Divisions -------------------------------------------------------------------------------------------------
INSERT INTO divisions (code, name, description, color) VALUES
    ('OPS',   'Operations',     'Seamanship, communications and operations room', '#1D4ED8'),
    ('ADMIN', 'Administration', 'Orderly room, command staff and coxswain',       '#7C3AED'),
    ('TRG',   'Training',       'Recruit and trade training',                     '#059669'),
    ('LOG',   'Logistics',      'Supply, galley and transport',                   '#D97706')
ON CONFLICT DO NOTHING;

-- Members with their member badges. When both the member and the badge are missing they are created
-- already linked both ways, in one statement.
WITH todo AS MATERIALIZED (
    SELECT d.*, gen_random_uuid() AS member_id, gen_random_uuid() AS badge_id
    FROM demo_members d
    WHERE NOT EXISTS (SELECT 1 FROM members m WHERE m.service_number = d.service_number)
      AND NOT EXISTS (SELECT 1 FROM badges b WHERE b.serial_number = d.badge_serial)
),
new_members AS (
    INSERT INTO members (id, service_number, rank, first_name, last_name, initials, email, mobile_phone,
                         division_id, badge_id, member_type, status, mess, moc)
    SELECT t.member_id, t.service_number, t.rank, t.first_name, t.last_name, t.initials, t.email, t.mobile_phone,
           dv.id, t.badge_id, t.member_type, t.status, t.mess, t.moc
    FROM todo t JOIN divisions dv ON dv.code = t.division_code
    RETURNING id
)
INSERT INTO badges (id, serial_number, assignment_type, assigned_to_id)
SELECT t.badge_id, t.badge_serial, 'member', t.member_id
FROM todo t
WHERE t.member_id IN (SELECT id FROM new_members);

-- Only one of the pair missing: create it unlinked.
INSERT INTO members (service_number, rank, first_name, last_name, initials, email, mobile_phone,
                     division_id, member_type, status, mess, moc)
SELECT d.service_number, d.rank, d.first_name, d.last_name, d.initials, d.email, d.mobile_phone,
       dv.id, d.member_type, d.status, d.mess, d.moc
FROM demo_members d JOIN divisions dv ON dv.code = d.division_code
ON CONFLICT DO NOTHING;

INSERT INTO badges (serial_number)
SELECT badge_serial FROM demo_members
ON CONFLICT DO NOTHING;

-- Badge pool: unassigned badges for visitors and events, plus one damaged and one returned badge.
INSERT INTO badges (serial_number, status) VALUES
    ('04B20001', 'active'),
    ('04B20002', 'active'),
    ('04B20003', 'active'),
    ('04B20004', 'active'),
    ('04B20005', 'active'),
    ('04B20006', 'active'),
    ('04B20007', 'damaged'),
    ('04B20008', 'inactive'),
    ('04C30001', 'active'),
    ('04C30002', 'active'),
    ('04C30003', 'active'),
    ('04E40001', 'active'),
    ('04E40002', 'active')
ON CONFLICT DO NOTHING;

-- Member qualifications.
INSERT INTO member_tags (member_id, tag_id)
SELECT m.id, t.id
FROM (VALUES ('D55301874', 'qualified_driver'),
             ('E68124459', 'qualified_driver'),
             ('H23019647', 'qualified_driver'),
             ('F14473902', 'first_aid'),
             ('G70938215', 'first_aid'),
             ('J86542130', 'first_aid'),
             ('G70938215', 'instructor'),
             ('B90412386', 'instructor'),
             ('J86542130', 'duty_crew'),
             ('N59830421', 'duty_crew'),
             ('S94416327', 'duty_crew'),
             ('V25193648', 'BMQ'),
             ('W73640281', 'BMQ'),
             ('R17058893', 'FTS')) AS v (service_number, tag_name)
JOIN members m ON m.service_number = v.service_number
JOIN tags t ON t.name = v.tag_name
ON CONFLICT DO NOTHING;

-- Visitors. One contractor is on site with a temporary badge (assigned to them if that badge is free).
WITH todo AS MATERIALIZED (
    SELECT gen_random_uuid() AS visitor_id,
           (SELECT b.id FROM badges b
            WHERE b.serial_number = '04C30001' AND b.assignment_type = 'unassigned' AND b.status = 'active') AS badge_id
    WHERE NOT EXISTS (SELECT 1 FROM visitors WHERE name = 'Dave Kowalski' AND organization = 'Northern Electrical Ltd')
),
new_visitor AS (
    INSERT INTO visitors (id, name, organization, visit_type, visit_reason, host_member_id, check_in_time,
                          temporary_badge_id, kiosk_id, check_in_method)
    SELECT t.visitor_id, 'Dave Kowalski', 'Northern Electrical Ltd', 'contractor', 'Replace drill deck lighting',
           (SELECT id FROM members WHERE service_number = 'E68124459'), now() - interval '90 minutes',
           t.badge_id, 'main-entrance', 'kiosk'
    FROM todo t
    RETURNING id
)
UPDATE badges b
SET assignment_type = 'visitor', assigned_to_id = t.visitor_id
FROM todo t
WHERE b.id = t.badge_id AND t.visitor_id IN (SELECT id FROM new_visitor);

INSERT INTO visitors (name, organization, visit_type, visit_reason, host_member_id, check_in_time, check_out_time,
                      kiosk_id, check_in_method)
SELECT v.name, v.organization, v.visit_type, v.visit_reason,
       (SELECT id FROM members WHERE service_number = v.host),
       now() - v.ago, now() - v.ago + v.stayed, 'main-entrance', v.method
FROM (VALUES ('Margaret Ellis', 'Department of National Defence', 'official', 'Annual unit inspection', 'K48213907',
              interval '1 day 3 hours', interval '2 hours', 'admin_manual'),
             ('Tom Becker', NULL, 'guest', 'Family day tour', 'S94416327',
              interval '2 days 5 hours', interval '90 minutes', 'kiosk'),
             ('Grace Liu', 'Canadian Forces Recruiting Centre', 'other', 'Recruiting briefing', 'L41207768',
              interval '3 days 4 hours', interval '1 hour', 'kiosk'))
     AS v (name, organization, visit_type, visit_reason, host, ago, stayed, method)
WHERE NOT EXISTS (SELECT 1 FROM visitors x WHERE x.name = v.name);

-- An upcoming event with guests; one guest already holds an event badge.
INSERT INTO events (name, code, description, start_date, end_date, status, auto_expire_badges, custom_roles)
VALUES ('Ship''s Company Mess Dinner', 'DEMO-MESS-DINNER', 'Formal mess dinner with guests from neighbouring units',
        current_date + 14, current_date + 14, 'active', true, '{"piper": "Piper", "guest_of_honour": "Guest of honour"}')
ON CONFLICT DO NOTHING;

INSERT INTO event_attendees (event_id, name, rank, organization, role, status, access_start, access_end)
SELECT e.id, a.name, a.rank, a.organization, a.role, a.status, e.start_date, e.end_date
FROM events e,
     (VALUES ('Cmdre Alan Parker', 'Cmdre', 'Naval Reserve Headquarters', 'guest_of_honour', 'approved'),
             ('Sgt Marie Dubois', 'Sgt', '38 Canadian Brigade Group', 'participant', 'approved'),
             ('Capt Ian Reid', 'Capt', '17 Wing Winnipeg', 'participant', 'pending'),
             ('Fiona Walsh', NULL, 'Royal Canadian Legion', 'piper', 'approved')) AS a (name, rank, organization, role, status)
WHERE e.code = 'DEMO-MESS-DINNER'
  AND NOT EXISTS (SELECT 1 FROM event_attendees x WHERE x.event_id = e.id AND x.name = a.name);

-- (created_at = now(): only an attendee created by this run, i.e. in this transaction, gets the badge.)
WITH todo AS MATERIALIZED (
    SELECT x.id AS attendee_id, b.id AS badge_id
    FROM event_attendees x
    JOIN events e ON e.id = x.event_id AND e.code = 'DEMO-MESS-DINNER'
    JOIN badges b ON b.serial_number = '04E40001' AND b.assignment_type = 'unassigned' AND b.status = 'active'
    WHERE x.name = 'Cmdre Alan Parker' AND x.badge_id IS NULL AND x.created_at = now()
),
assigned AS (
    UPDATE badges b SET assignment_type = 'event', assigned_to_id = t.attendee_id
    FROM todo t WHERE b.id = t.badge_id
    RETURNING b.id
)
UPDATE event_attendees x
SET badge_id = t.badge_id, badge_assigned_at = now()
FROM todo t
WHERE x.id = t.attendee_id AND t.badge_id IN (SELECT id FROM assigned);
