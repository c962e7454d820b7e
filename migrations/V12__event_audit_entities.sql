-- Event attendees and event check-ins are audited as entities of their own (docs/database.md, "Events").
ALTER TABLE audit_log DROP CONSTRAINT audit_log_entity_type_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_entity_type_check CHECK (entity_type IN (
    'member', 'badge', 'checkin', 'visitor', 'event', 'event_attendee', 'event_checkin', 'division', 'admin_user',
    'settings', 'dds', 'lockup', 'tag', 'security_alert', 'api_key', 'enum'));
