-- The operational day's zone and rollover are the unit's settings, always passed by the caller; the
-- function loses its built-in defaults (a second home of them). CREATE OR REPLACE cannot drop
-- parameter defaults, so the function is dropped here and re-created by migrations/functions/00_helpers.sql.
DROP FUNCTION operational_date(timestamptz, text, interval);
