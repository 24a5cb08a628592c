-- Stanchion job store, migration 1: the jobs table, its invariants, and the indexes its queries use.
-- Run by PostgresStore at connect, inside the transaction that holds the migration lock, with
-- search_path set to the store's schema. Times are written by the store from its clock, never by now().

CREATE TABLE stanchion_jobs (
    id           uuid        PRIMARY KEY,
    name         text        NOT NULL,
    tenant       text,
    priority     smallint    NOT NULL,
    state        text        NOT NULL,
    payload      bytea       NOT NULL,
    attempt      integer     NOT NULL,
    max_attempts integer     NOT NULL,
    run_at       timestamptz NOT NULL,
    created_at   timestamptz NOT NULL,
    started_at   timestamptz,
    completed_at timestamptz,
    lease_worker text,
    lease_until  timestamptz,
    last_error   text,

    CONSTRAINT stanchion_jobs_state_known CHECK (
        state IN ('scheduled', 'available', 'running', 'succeeded', 'failed', 'cancelled', 'discarded')),
    CONSTRAINT stanchion_jobs_attempt_in_range CHECK (attempt >= 0 AND attempt <= max_attempts),
    CONSTRAINT stanchion_jobs_max_attempts_positive CHECK (max_attempts >= 1),
    -- Exactly the running jobs hold a lease, and a lease is never half stored.
    CONSTRAINT stanchion_jobs_running_has_lease CHECK (
        (state = 'running') = (lease_worker IS NOT NULL AND lease_until IS NOT NULL)),
    CONSTRAINT stanchion_jobs_lease_whole CHECK ((lease_worker IS NULL) = (lease_until IS NULL)),
    -- A running job has started an attempt.
    CONSTRAINT stanchion_jobs_running_has_started CHECK (
        state <> 'running' OR (started_at IS NOT NULL AND attempt >= 1)),
    -- Exactly the final states have a completion time.
    CONSTRAINT stanchion_jobs_final_has_completed_at CHECK (
        (state IN ('succeeded', 'cancelled', 'discarded')) = (completed_at IS NOT NULL))
);

-- claim: the claimable rows, in claim order (a scheduled row is claimable once run_at passes).
CREATE INDEX stanchion_jobs_claimable ON stanchion_jobs (priority DESC, run_at, id)
    WHERE state IN ('scheduled', 'available', 'failed');

-- rescue_expired: the running rows by the end of their lease.
CREATE INDEX stanchion_jobs_running_lease ON stanchion_jobs (lease_until)
    WHERE state = 'running';

-- list filtered by state, in id order from the cursor; count_by_state.
CREATE INDEX stanchion_jobs_state_id ON stanchion_jobs (state, id);

-- list filtered by tenant (and state), in id order from the cursor.
CREATE INDEX stanchion_jobs_tenant_id ON stanchion_jobs (tenant, id)
    WHERE tenant IS NOT NULL;

-- Cleanup of finished jobs by age (a retention sweep deleting old Succeeded or Discarded rows);
-- no JobStore method reads it yet.
CREATE INDEX stanchion_jobs_finished ON stanchion_jobs (state, completed_at)
    WHERE completed_at IS NOT NULL;
