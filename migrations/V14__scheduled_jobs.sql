-- Scheduled checks (docs/database.md, "Scheduled jobs"): one row per job and operational day that ran,
-- so a job runs once per day however many relay replicas or operators trigger it.
CREATE TABLE scheduled_job_runs (
    job              text        NOT NULL,
    operational_date date        NOT NULL,
    ran_at           timestamptz NOT NULL DEFAULT now(),
    -- The instant the job was run for (the scheduler's clock; `sentinel jobs run --at`).
    due_at           timestamptz NOT NULL,
    result           jsonb       NOT NULL DEFAULT '{}',
    CONSTRAINT scheduled_job_runs_pkey PRIMARY KEY (job, operational_date),
    CONSTRAINT scheduled_job_runs_job_check CHECK (job IN ('daily_reset', 'lockup_reminder', 'lockup_overdue'))
);
