-- Small helpers used everywhere: instants as text, the operational day, updated_at stamps.
-- Replaceable objects: applied after the versioned migrations whenever this file changes (docs/database.md).

-- ISO-8601 UTC with milliseconds, e.g. 2026-01-23T16:56:39.000Z; NULL for NULL (STRICT).
-- Declared STABLE like the to_char it calls, so PostgreSQL inlines it into the calling statement: an
-- IMMUTABLE declaration over a STABLE body is run as a separate SQL-function call every time (several
-- per scan, two per row of every list).
CREATE OR REPLACE FUNCTION iso(ts timestamptz) RETURNS text
LANGUAGE sql STABLE STRICT PARALLEL SAFE
AS $$ SELECT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') $$;

-- Dates are returned by the API as midnight UTC timestamps. STABLE for the same reason as iso().
CREATE OR REPLACE FUNCTION iso_date(d date) RETURNS text
LANGUAGE sql STABLE STRICT PARALLEL SAFE
AS $$ SELECT to_char(d, 'YYYY-MM-DD') || 'T00:00:00.000Z' $$;

-- The operational day: the local calendar day in the unit's time zone, shifted so that a duty night
-- running past midnight stays on the day it started until the rollover time. The zone and rollover are
-- the `unit_timezone` and `day_rollover` settings, passed by the caller (sentinel_domain::time::OperationalDay).
CREATE OR REPLACE FUNCTION operational_date(at timestamptz, unit_timezone text, rollover interval) RETURNS date
LANGUAGE sql STABLE STRICT PARALLEL SAFE
AS $$ SELECT ((at AT TIME ZONE unit_timezone) - rollover)::date $$;

CREATE OR REPLACE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END $$;

-- The rows of a table as PostgreSQL's planner estimates them: rows per page at the last ANALYZE times the
-- pages the table has now (so it follows growth between analyses); counted when never analysed. Used for
-- the totals of unfiltered long lists (docs/architecture.md, "Lists").
CREATE OR REPLACE FUNCTION table_row_estimate(p_table regclass) RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
DECLARE
    pages real;
    tuples real;
    n bigint;
BEGIN
    SELECT relpages, reltuples INTO pages, tuples FROM pg_class WHERE oid = p_table;
    IF pages > 0 AND tuples >= 0 THEN
        RETURN (tuples / pages * (pg_relation_size(p_table) / current_setting('block_size')::bigint))::bigint;
    END IF;
    EXECUTE format('SELECT count(*) FROM %s', p_table) INTO n;
    RETURN n;
END $$;
