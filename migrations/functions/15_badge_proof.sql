-- Badge proof: a kiosk acting on behalf of a member (accept or release DDS, transfer the Lockup
-- responsibility, execute lockup) sends the serial of the badge that member just scanned
-- (`actorBadgeSerial`); it must be an active badge assigned to that member. Users act by their role.
-- Replaceable objects: applied after the versioned migrations whenever this file changes (docs/database.md).

-- Whether badge `p_serial` (as scanned: trimmed and upper-cased here) proves the presence of member `p_member`.
CREATE OR REPLACE FUNCTION badge_proves(p_serial text, p_member uuid) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM badges b
                   WHERE b.serial_number = upper(btrim(p_serial, E' \t\r\n\f\v'))
                     AND b.status = 'active' AND b.assignment_type = 'member' AND b.assigned_to_id = p_member)
$$;
