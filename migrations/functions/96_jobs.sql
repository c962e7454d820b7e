-- Scheduled checks, run by the relay replicas every minute and by `sentinel jobs run` (docs/database.md,
-- "Scheduled jobs"). Each job runs at most once per operational day: its scheduled_job_runs row is
-- inserted first, so a second replica (or a second run) waits for the first and then does nothing.
-- Replaceable objects: applied after the versioned migrations whenever this file changes (docs/database.md).

-- The instant local time `p_time` of operational day `p_day` happens (DST-aware: a local time is a wall-clock
-- reading in the unit's zone). The day rolls over at p_rollover on the next calendar day.
CREATE OR REPLACE FUNCTION local_instant(p_day date, p_time interval, p_zone text) RETURNS timestamptz
LANGUAGE sql STABLE STRICT AS $$ SELECT (p_day + p_time) AT TIME ZONE p_zone $$;

-- Claims job `p_job` for day `p_day`: true when this call is the one that runs it.
CREATE OR REPLACE FUNCTION claim_job(p_job text, p_day date, p_at timestamptz) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO scheduled_job_runs (job, operational_date, due_at) VALUES (p_job, p_day, p_at)
    ON CONFLICT (job, operational_date) DO NOTHING;
    RETURN FOUND;
END $$;

-- Whether someone checked in on operational day p_day and no lockup secured the building since.
CREATE OR REPLACE FUNCTION building_left_unsecured(p_day date, p_zone text, p_rollover interval) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM checkins c
                   WHERE c."timestamp" >= local_instant(p_day, p_rollover, p_zone)
                     AND c."timestamp" < local_instant(p_day + 1, p_rollover, p_zone) AND c.direction = 'in')
       AND coalesce((SELECT status FROM building_status WHERE operational_date = p_day), 'open') <> 'secured'
$$;

-- Everything due at instant p_at, each job once per operational day. Returns `{ ran: [{job, date, …}],
-- checkins, alerts, badges, presence }`: what to publish after the commit — checkin_event_json,
-- alert_json and badge_json objects, and the presence figures when someone was checked out (else null).
--  * daily_reset (for the day that ended at the last rollover): members still inside are checked out at the
--    rollover instant (method system, kiosk SYSTEM, flagged) with a member_missed_checkout alert each — except,
--    for up to two hours after the rollover (sync_grace), those whose latest check-in came from a kiosk that may still hold
--    offline scans (it reported queued scans at its last heartbeat, or has not been heard from since before the
--    rollover): the job then stays unclaimed and runs again on the next tick; a day with check-ins and no
--    lockup raises building_not_secured; attendees of events whose end date has passed expire and their
--    badges return to the pool.
--  * lockup_reminder at 22:00 and lockup_overdue at 23:00 local time of the current operational day, while
--    someone is inside and the building is not secured: lockup_reminder (warning), lockup_not_executed
--    (critical).
CREATE OR REPLACE FUNCTION run_scheduled_jobs(p_at timestamptz, p_zone text, p_rollover interval) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    today date := operational_date(p_at, p_zone, p_rollover);
    sync_grace constant interval := interval '2 hours';
    ended date := today - 1;
    rollover_at timestamptz := local_instant(today, p_rollover, p_zone);
    ran jsonb := '[]'::jsonb;
    checkin_events jsonb := '[]'::jsonb;
    alerts jsonb := '[]'::jsonb;
    badges jsonb := '[]'::jsonb;
    evening record;
    target uuid;
    r jsonb;
    alert jsonb;
    forced integer := 0;
    deferred integer := 0;
    expired integer := 0;
    released jsonb;
    e events%ROWTYPE;
    present integer;
BEGIN
    -- daily_reset for the day that just ended. Deferred stragglers keep it unclaimed until their kiosk synced.
    IF NOT EXISTS (SELECT 1 FROM scheduled_job_runs WHERE job = 'daily_reset' AND operational_date = ended) THEN
        PERFORM pg_advisory_xact_lock(hashtextextended('scheduled_job:daily_reset', 0));
    END IF;
    IF NOT EXISTS (SELECT 1 FROM scheduled_job_runs WHERE job = 'daily_reset' AND operational_date = ended) THEN
        FOR target IN
            SELECT p.member_id FROM member_presence p JOIN members m ON m.id = p.member_id
            WHERE p.direction = 'in' AND m.status = 'active' AND p.since < rollover_at
            ORDER BY p.member_id
        LOOP
            IF p_at < rollover_at + sync_grace AND EXISTS (
                   SELECT 1 FROM member_presence p JOIN checkins c ON c.id = p.last_checkin_id
                   JOIN kiosk_status k ON k.kiosk_id = c.kiosk_id
                   WHERE p.member_id = target AND (k.queue_size > 0 OR k.last_seen_at < rollover_at)) THEN
                deferred := deferred + 1;
                CONTINUE;
            END IF;
            r := record_checkin(target, NULL, 'out', 'SYSTEM', 'system', rollover_at, true, 'Forced checkout at day rollover',
                                NULL, NULL, false, true, NULL, NULL, 'checkin_create',
                                jsonb_build_object('method', 'system', 'job', 'daily_reset'));
            IF r->>'outcome' = 'OK' THEN
                forced := forced + 1;
                checkin_events := checkin_events || (r->'event');
                alert := raise_security_alert('member_missed_checkout', 'warning', NULL, target, 'SYSTEM',
                                              format('Missed checkout: %s was still checked in at the day rollover and was checked out',
                                                     r->'event'->>'memberName'),
                                              jsonb_build_object('title', 'Member missed checkout', 'operationalDate', iso_date(ended),
                                                                 'checkinId', r->'checkin'->'id'),
                                              interval '0');
                alerts := alerts || alert;
            END IF;
        END LOOP;
        IF deferred = 0 THEN
            PERFORM claim_job('daily_reset', ended, p_at);
            IF building_left_unsecured(ended, p_zone, p_rollover) THEN
                alert := raise_security_alert('building_not_secured', 'critical', NULL, NULL, 'SYSTEM',
                                              format('Building not secured: no lockup was executed on %s', ended),
                                              jsonb_build_object('title', 'Building not secured', 'operationalDate', iso_date(ended)),
                                              interval '0');
                alerts := alerts || alert;
            END IF;
            FOR e IN SELECT ev.* FROM events ev WHERE ev.end_date < today AND EXISTS (
                         SELECT 1 FROM event_attendees a WHERE a.event_id = ev.id AND a.status <> 'expired') LOOP
                WITH x AS (UPDATE event_attendees SET status = 'expired', access_end = least(coalesce(access_end, e.end_date), e.end_date)
                           WHERE event_id = e.id AND status <> 'expired' RETURNING 1)
                SELECT expired + count(*) INTO expired FROM x;
                released := event_release_badges(e.id);
                badges := badges || released;
            END LOOP;
            UPDATE scheduled_job_runs SET result = jsonb_build_object('forcedCheckouts', forced, 'expiredAttendees', expired)
            WHERE job = 'daily_reset' AND operational_date = ended;
            ran := ran || jsonb_build_object('job', 'daily_reset', 'date', iso_date(ended), 'forcedCheckouts', forced,
                                             'expiredAttendees', expired);
        ELSE
            ran := ran || jsonb_build_object('job', 'daily_reset', 'date', iso_date(ended), 'forcedCheckouts', forced,
                                             'deferred', deferred);
        END IF;
    END IF;

    -- Evening checks of the current operational day: the reminder at 22:00, the overdue alert at 23:00.
    SELECT count(*) INTO present FROM present_members;
    FOR evening IN
        SELECT * FROM (VALUES
            ('lockup_reminder', interval '22:00', 'lockup_reminder', 'warning', 'Lockup reminder',
             'Lockup reminder: %s member(s) still inside and the building is not secured'),
            ('lockup_overdue', interval '23:00', 'lockup_not_executed', 'critical', 'Lockup overdue',
             'Lockup overdue: %s member(s) still inside at 23:00 and no lockup executed')
        ) AS x(job, at_time, alert_type, severity, title, message)
    LOOP
        -- Two statements: SQL does not promise to evaluate OR left to right, and claiming writes.
        CONTINUE WHEN p_at < local_instant(today, evening.at_time, p_zone);
        CONTINUE WHEN NOT claim_job(evening.job, today, p_at);
        alert := NULL;
        IF present > 0 AND coalesce((SELECT status FROM building_status WHERE operational_date = today), 'open') <> 'secured' THEN
            alert := raise_security_alert(evening.alert_type, evening.severity, NULL, NULL, 'SYSTEM', format(evening.message, present),
                                          jsonb_build_object('title', evening.title, 'operationalDate', iso_date(today), 'present', present),
                                          interval '0');
            alerts := alerts || alert;
        END IF;
        ran := ran || jsonb_build_object('job', evening.job, 'date', iso_date(today), 'alerted', alert IS NOT NULL);
    END LOOP;
    RETURN jsonb_build_object('ran', ran, 'checkins', checkin_events, 'alerts', alerts, 'badges', badges);
END $$;
