-- One JSON shape per entity, used by the API responses, the realtime payloads and the relay backfill.
-- Replaceable objects: applied after the versioned migrations whenever this file changes (docs/database.md).

-- The Member object (OpenAPI schema Member), given the ids of its type and status. Without sub-selects
-- PostgreSQL inlines it into the calling query: a list joins the lookups once and builds each row without
-- a function call (docs/database.md, "Entity JSON").
CREATE OR REPLACE FUNCTION member_json(m members, member_type_id uuid, member_status_id uuid) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', m.id, 'serviceNumber', m.service_number, 'rank', m.rank,
        'firstName', m.first_name, 'lastName', m.last_name, 'middleInitial', m.initials,
        'email', m.email, 'phoneNumber', coalesce(m.mobile_phone, m.home_phone),
        'divisionId', m.division_id, 'badgeId', m.badge_id,
        'memberTypeId', member_type_id, 'memberStatusId', member_status_id,
        'status', m.status, 'memberType', m.member_type,
        'createdAt', iso(m.created_at), 'updatedAt', iso(m.updated_at))
$$;

-- The Member object of one row, its type and status looked up.
CREATE OR REPLACE FUNCTION member_json(m members) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT member_json(m, (SELECT t.id FROM member_types t WHERE t.code = m.member_type),
                          (SELECT s.id FROM member_statuses s WHERE s.code = m.status))
$$;

CREATE OR REPLACE FUNCTION badge_json(b badges) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', b.id, 'serialNumber', b.serial_number, 'assignmentType', b.assignment_type,
        'assignedToId', b.assigned_to_id, 'status', b.status,
        'badgeStatusId', (SELECT s.id FROM badge_statuses s WHERE s.code = b.status),
        'lastUsed', iso(b.last_used),
        'assignedTo', CASE b.assignment_type
            WHEN 'member' THEN (SELECT jsonb_build_object('id', m.id, 'name', m.rank || ' ' || m.first_name || ' ' || m.last_name, 'type', 'member')
                                FROM members m WHERE m.id = b.assigned_to_id)
            WHEN 'visitor' THEN (SELECT jsonb_build_object('id', v.id, 'name', v.name, 'type', 'visitor')
                                 FROM visitors v WHERE v.id = b.assigned_to_id)
            WHEN 'event' THEN (SELECT jsonb_build_object('id', a.id, 'name', a.name, 'type', 'event')
                               FROM event_attendees a WHERE a.id = b.assigned_to_id)
        END,
        'createdAt', iso(b.created_at), 'updatedAt', iso(b.updated_at))
$$;

-- Checkin with its `member` summary (m may be NULL).
CREATE OR REPLACE FUNCTION checkin_json(c checkins, m members) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', c.id, 'memberId', c.member_id, 'badgeId', c.badge_id, 'direction', c.direction,
        'timestamp', iso(c."timestamp"), 'kioskId', c.kiosk_id, 'synced', c.synced,
        'flaggedForReview', c.flagged_for_review, 'flagReason', c.flag_reason, 'method', c.method,
        'createdByAdmin', c.created_by_admin, 'createdAt', iso(c.created_at),
        'member', CASE WHEN m.id IS NULL THEN NULL ELSE jsonb_build_object(
            'id', m.id, 'serviceNumber', m.service_number, 'rank', m.rank,
            'firstName', m.first_name, 'lastName', m.last_name, 'divisionId', m.division_id) END)
$$;

-- Payload of the realtime `checkin:new` event.
CREATE OR REPLACE FUNCTION checkin_event_json(c checkins, m members) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN jsonb_build_object(
        'id', c.id, 'memberId', c.member_id, 'memberName', m.first_name || ' ' || m.last_name, 'rank', m.rank,
        'division', coalesce((SELECT d.name FROM divisions d WHERE d.id = m.division_id), 'Unknown'),
        'direction', c.direction, 'timestamp', iso(c."timestamp"), 'kioskId', c.kiosk_id, 'method', c.method);
END $$;

CREATE OR REPLACE FUNCTION alert_json(a security_alerts) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', a.id, 'alertType', a.alert_type, 'severity', a.severity, 'badgeSerial', a.badge_serial,
        'memberId', a.member_id, 'kioskId', a.kiosk_id, 'message', a.message, 'details', a.details,
        'status', a.status, 'createdAt', iso(a.created_at), 'acknowledgedBy', a.acknowledged_by,
        'acknowledgedAt', iso(a.acknowledged_at), 'acknowledgeNote', a.acknowledge_note)
$$;

-- The Visitor object (OpenAPI schema Visitor), given the id of its visit type (inlinable, as member_json).
CREATE OR REPLACE FUNCTION visitor_json(v visitors, visit_type_id uuid) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', v.id, 'name', v.name, 'organization', v.organization, 'visitType', v.visit_type,
        'visitTypeId', visit_type_id,
        'visitReason', v.visit_reason, 'eventId', v.event_id, 'hostMemberId', v.host_member_id,
        'checkInTime', iso(v.check_in_time), 'checkOutTime', iso(v.check_out_time),
        'temporaryBadgeId', v.temporary_badge_id, 'kioskId', v.kiosk_id, 'adminNotes', v.admin_notes,
        'checkInMethod', COALESCE(v.check_in_method, 'kiosk'), 'createdByAdmin', v.created_by_admin,
        'createdAt', iso(v.created_at))
$$;

-- The Visitor object of one row, its visit type looked up.
CREATE OR REPLACE FUNCTION visitor_json(v visitors) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT visitor_json(v, (SELECT t.id FROM visit_types t WHERE t.code = v.visit_type))
$$;

-- The Event object (OpenAPI schema Event); dates as midnight UTC.
CREATE OR REPLACE FUNCTION event_json(e events) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', e.id, 'name', e.name, 'code', e.code, 'description', e.description,
        'startDate', iso_date(e.start_date), 'endDate', iso_date(e.end_date), 'status', e.status,
        'autoExpireBadges', e.auto_expire_badges, 'customRoles', e.custom_roles, 'createdBy', e.created_by,
        'createdAt', iso(e.created_at), 'updatedAt', iso(e.updated_at))
$$;

-- The Attendee object (OpenAPI schema Attendee).
CREATE OR REPLACE FUNCTION attendee_json(a event_attendees) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', a.id, 'eventId', a.event_id, 'name', a.name, 'rank', a.rank, 'organization', a.organization,
        'role', a.role, 'badgeId', a.badge_id, 'badgeAssignedAt', iso(a.badge_assigned_at),
        'accessStart', iso_date(a.access_start), 'accessEnd', iso_date(a.access_end), 'status', a.status,
        'createdAt', iso(a.created_at), 'updatedAt', iso(a.updated_at))
$$;

-- An event check-in (OpenAPI schema EventCheckin).
CREATE OR REPLACE FUNCTION event_checkin_json(c event_checkins) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', c.id, 'eventAttendeeId', c.event_attendee_id, 'badgeId', c.badge_id, 'direction', c.direction,
        'timestamp', iso(c."timestamp"), 'kioskId', c.kiosk_id, 'createdAt', iso(c.created_at))
$$;

-- The DdsAssignment object (OpenAPI schema DdsAssignment): `member.name` is "<first> <last>", `member.division`
-- the division's name, `assignedByAdminName` the assigning user's display name.
CREATE OR REPLACE FUNCTION dds_assignment_json(a dds_assignments) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', a.id, 'memberId', a.member_id, 'assignedDate', iso_date(a.assigned_date),
        'acceptedAt', iso(a.accepted_at), 'releasedAt', iso(a.released_at),
        'transferredTo', a.transferred_to, 'assignedBy', a.assigned_by, 'status', a.status,
        'notes', a.notes, 'createdAt', iso(a.created_at), 'updatedAt', iso(a.updated_at),
        'member', (SELECT jsonb_build_object('id', m.id, 'name', m.first_name || ' ' || m.last_name, 'rank', m.rank, 'division', d.name)
                   FROM members m LEFT JOIN divisions d ON d.id = m.division_id WHERE m.id = a.member_id),
        'assignedByAdminName', (SELECT u.display_name FROM users u WHERE u.id = a.assigned_by))
$$;

-- A ResponsibilityLogEntry (OpenAPI schema ResponsibilityLogEntry).
CREATE OR REPLACE FUNCTION responsibility_log_json(r responsibility_audit_log) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', r.id, 'memberId', r.member_id, 'tagName', r.tag_name, 'action', r.action,
        'fromMemberId', r.from_member_id, 'toMemberId', r.to_member_id, 'performedBy', r.performed_by,
        'performedByType', r.performed_by_type, 'timestamp', iso(r."timestamp"), 'notes', r.notes)
$$;

-- A LockupHolder (OpenAPI schema LockupHolder): the member holding the Lockup responsibility.
CREATE OR REPLACE FUNCTION lockup_holder_json(m members) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', m.id, 'rank', m.rank, 'firstName', m.first_name, 'lastName', m.last_name)
$$;

-- The Tag object (OpenAPI schema Tag). A system tag (`isSystem`, the Lockup responsibility) changes holders only
-- through its own flow.
CREATE OR REPLACE FUNCTION tag_json(t tags) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', t.id, 'name', t.name, 'color', t.color, 'description', t.description, 'displayOrder', t.display_order,
        'singleHolder', t.single_holder, 'isSystem', t.is_system, 'createdAt', iso(t.created_at), 'updatedAt', iso(t.updated_at))
$$;

-- A tag a member holds (OpenAPI schema MemberTag): the Tag with the moment the member received it.
CREATE OR REPLACE FUNCTION member_tag_json(mt member_tags, t tags) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT tag_json(t) || jsonb_build_object('assignedAt', iso(mt.created_at))
$$;
