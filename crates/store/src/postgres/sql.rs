//! The adapter's SQL, and the one place a row becomes a [`Job`].
//!
//! Statements name tables without a schema: every pooled connection's `search_path` is the store's
//! schema. Times are parameters from the store's clock, never `now()`.

use std::cmp::Reverse;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio_postgres::Row;
use tokio_postgres::types::FromSql;

use crate::job::{Job, JobId, JobState, Lease};
use crate::store::StoreError;

/// The job columns, in the order every statement selects or returns them.
macro_rules! job_columns {
    () => {
        "id, name, tenant, priority, state, payload, attempt, max_attempts, run_at, created_at, \
         started_at, completed_at, lease_worker, lease_until, last_error"
    };
}

/// The `SET` list of a failed attempt, shared by `fail` and `rescue_expired` so they agree with
/// `rules::fail`: `Discarded` with `completed_at` on the last allowed attempt, else `Failed` to
/// run again at `retry_at`. Expressions in `SET` see the row before the update.
macro_rules! failed_attempt {
    (error = $error:literal, retry_at = $retry_at:literal, now = $now:literal) => {
        concat!(
            "lease_worker = NULL, lease_until = NULL, last_error = ",
            $error,
            ", state = CASE WHEN attempt >= max_attempts THEN 'discarded' ELSE 'failed' END",
            ", completed_at = CASE WHEN attempt >= max_attempts THEN ",
            $now,
            " ELSE completed_at END",
            ", run_at = CASE WHEN attempt >= max_attempts THEN run_at ELSE ",
            $retry_at,
            " END"
        )
    };
}

/// Inserts the unnested jobs and wakes listeners when one of them is runnable now.
/// `$1..$8`: columns as arrays; `$9`: now; `$10`: the notification channel.
pub(super) const INSERT: &str = concat!(
    "WITH inserted AS (",
    "INSERT INTO stanchion_jobs",
    " (id, name, tenant, priority, state, payload, max_attempts, run_at, attempt, created_at)",
    " SELECT new.*, 0, $9::timestamptz FROM UNNEST($1::uuid[], $2::text[], $3::text[],",
    " $4::int2[], $5::text[], $6::bytea[], $7::int4[], $8::timestamptz[]) AS new",
    " RETURNING run_at)",
    " SELECT pg_notify($10::text, '')",
    " FROM (SELECT 1 FROM inserted WHERE run_at <= $9::timestamptz LIMIT 1) AS runnable"
);

/// `$1`: id.
pub(super) const GET: &str = concat!(
    "SELECT ",
    job_columns!(),
    " FROM stanchion_jobs WHERE id = $1"
);

/// `$1`: ids.
pub(super) const GET_MANY: &str = concat!(
    "SELECT ",
    job_columns!(),
    " FROM stanchion_jobs WHERE id = ANY($1::uuid[])"
);

pub(super) const COUNT_BY_STATE: &str =
    "SELECT state, count(*) AS count FROM stanchion_jobs GROUP BY state";

/// One statement: lock up to `$4` runnable rows in claim order, skipping rows other claims hold,
/// and lease them. `$1`: now; `$2`: worker; `$3`: lease end. `RETURNING` order is unspecified:
/// sort with [`claim_order`].
/// The picked rows are a `MATERIALIZED` CTE so that no plan can run the `LIMIT ... SKIP LOCKED`
/// subquery twice and lease more than `$4` rows.
pub(super) const CLAIM: &str = concat!(
    "WITH picked AS MATERIALIZED (SELECT id FROM stanchion_jobs",
    " WHERE state IN ('scheduled', 'available', 'failed') AND run_at <= $1",
    " ORDER BY priority DESC, run_at, id LIMIT $4 FOR UPDATE SKIP LOCKED)",
    " UPDATE stanchion_jobs SET state = 'running', attempt = attempt + 1, started_at = $1,",
    " lease_worker = $2, lease_until = $3",
    " WHERE id IN (SELECT id FROM picked)",
    " RETURNING ",
    job_columns!()
);

/// `$1`: id; `$2`: attempt; `$3`: lease end.
pub(super) const HEARTBEAT: &str = concat!(
    "UPDATE stanchion_jobs SET lease_until = $3",
    " WHERE id = $1 AND state = 'running' AND attempt = $2::int8 RETURNING ",
    job_columns!()
);

/// `$1`: id; `$2`: attempt; `$3`: now.
pub(super) const COMPLETE: &str = concat!(
    "UPDATE stanchion_jobs SET state = 'succeeded', completed_at = $3,",
    " lease_worker = NULL, lease_until = NULL",
    " WHERE id = $1 AND state = 'running' AND attempt = $2::int8 RETURNING ",
    job_columns!()
);

/// `$1`: ids; `$2`: their attempts; `$3`: now. Returns the rows it completed.
pub(super) const COMPLETE_BATCH: &str = concat!(
    "UPDATE stanchion_jobs SET state = 'succeeded', completed_at = $3,",
    " lease_worker = NULL, lease_until = NULL",
    " FROM UNNEST($1::uuid[], $2::int8[]) AS done(done_id, done_attempt)",
    " WHERE id = done_id AND state = 'running' AND attempt = done_attempt RETURNING ",
    job_columns!()
);

/// `$1`: id; `$2`: attempt; `$3`: error; `$4`: retry at; `$5`: now; `$6`: the notification
/// channel, notified when the job is runnable at once.
pub(super) const FAIL: &str = concat!(
    "UPDATE stanchion_jobs SET ",
    failed_attempt!(
        error = "$3::text",
        retry_at = "$4::timestamptz",
        now = "$5::timestamptz"
    ),
    " WHERE id = $1 AND state = 'running' AND attempt = $2::int8 RETURNING ",
    job_columns!(),
    ", CASE WHEN state = 'failed' AND run_at <= $5::timestamptz",
    " THEN pg_notify($6::text, '') END AS woke"
);

/// `$1`: id; `$2`: now.
pub(super) const CANCEL: &str = concat!(
    "UPDATE stanchion_jobs SET state = 'cancelled', completed_at = $2,",
    " lease_worker = NULL, lease_until = NULL",
    " WHERE id = $1 AND state NOT IN ('succeeded', 'cancelled', 'discarded') RETURNING ",
    job_columns!()
);

/// `$1`: now; `$2`: the notification channel, notified when a rescued job can run again.
pub(super) const RESCUE_EXPIRED: &str = concat!(
    "UPDATE stanchion_jobs SET ",
    failed_attempt!(
        error = "'lease expired'",
        retry_at = "$1::timestamptz",
        now = "$1::timestamptz"
    ),
    " WHERE state = 'running' AND lease_until <= $1::timestamptz RETURNING ",
    job_columns!(),
    ", CASE WHEN state = 'failed' THEN pg_notify($2::text, '') END AS woke"
);

/// `SELECT` of the jobs matching `conditions` (each naming its own parameter) in id order;
/// `limit` is the number of the `LIMIT` parameter.
pub(super) fn list(conditions: &[String], limit: usize) -> String {
    let filter = if conditions.is_empty() {
        "TRUE".to_owned()
    } else {
        conditions.join(" AND ")
    };
    format!(
        concat!(
            "SELECT ",
            job_columns!(),
            " FROM stanchion_jobs WHERE {} ORDER BY id LIMIT ${}"
        ),
        filter, limit
    )
}

/// A state's name in the `state` column.
pub(super) fn state_name(state: JobState) -> &'static str {
    match state {
        JobState::Scheduled => "scheduled",
        JobState::Available => "available",
        JobState::Running => "running",
        JobState::Succeeded => "succeeded",
        JobState::Failed => "failed",
        JobState::Cancelled => "cancelled",
        JobState::Discarded => "discarded",
    }
}

/// The state named `name` in the `state` column.
pub(super) fn parse_state(name: &str) -> Result<JobState, StoreError> {
    JobState::ALL
        .into_iter()
        .find(|state| state_name(*state) == name)
        .ok_or_else(|| StoreError::Codec(format!("unknown job state {name:?}")))
}

/// The key that sorts claimed jobs into claim order: highest priority, earliest `run_at`, lowest id.
pub(super) fn claim_order(job: &Job) -> (Reverse<i16>, SystemTime, JobId) {
    (Reverse(job.priority), job.run_at, job.id)
}

/// `time` as PostgreSQL stores it: `timestamptz` keeps microseconds, and the driver truncates
/// toward PostgreSQL's epoch (2000-01-01).
pub(super) fn stored_time(time: SystemTime) -> SystemTime {
    let epoch = UNIX_EPOCH + Duration::from_secs(946_684_800);
    let truncate = |d: Duration| Duration::new(d.as_secs(), d.subsec_micros() * 1_000);
    match time.duration_since(epoch) {
        Ok(after) => epoch + truncate(after),
        Err(before) => epoch - truncate(before.duration()),
    }
}

/// An attempt number from an `integer` column.
fn attempt(row: &Row, column: &str) -> Result<u32, StoreError> {
    let value: i32 = self::column(row, column)?;
    u32::try_from(value)
        .map_err(|_| StoreError::Codec(format!("column {column} holds {value}, not an attempt")))
}

/// The value of `column` in `row`; [`StoreError::Codec`] if it does not decode as `T`.
pub(super) fn column<'a, T: FromSql<'a>>(row: &'a Row, column: &str) -> Result<T, StoreError> {
    row.try_get(column)
        .map_err(|e| StoreError::Codec(format!("column {column}: {e}")))
}

/// The job in `row`, which holds the columns of `job_columns!`.
pub(super) fn job_from_row(row: &Row) -> Result<Job, StoreError> {
    let lease_worker: Option<&str> = column(row, "lease_worker")?;
    let lease_until: Option<SystemTime> = column(row, "lease_until")?;
    let lease = match (lease_worker, lease_until) {
        (Some(worker), Some(until)) => Some(Lease {
            worker: worker.into(),
            until,
        }),
        _ => None,
    };
    Ok(Job {
        id: JobId(column(row, "id")?),
        name: column::<&str>(row, "name")?.into(),
        tenant: column::<Option<&str>>(row, "tenant")?.map(Into::into),
        priority: column(row, "priority")?,
        state: parse_state(column(row, "state")?)?,
        payload: column::<&[u8]>(row, "payload")?.into(),
        attempt: attempt(row, "attempt")?,
        max_attempts: attempt(row, "max_attempts")?,
        run_at: column(row, "run_at")?,
        created_at: column(row, "created_at")?,
        started_at: column(row, "started_at")?,
        completed_at: column(row, "completed_at")?,
        lease,
        last_error: column::<Option<&str>>(row, "last_error")?.map(Into::into),
    })
}

/// The jobs in `rows`.
pub(super) fn jobs_from_rows(rows: &[Row]) -> Result<Vec<Job>, StoreError> {
    rows.iter().map(job_from_row).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_names_round_trip() {
        for state in JobState::ALL {
            assert_eq!(parse_state(state_name(state)), Ok(state));
        }
        assert!(matches!(parse_state("paused"), Err(StoreError::Codec(_))));
    }

    #[test]
    fn stored_time_keeps_microseconds_like_the_driver() {
        let check = |time: SystemTime, expected: SystemTime| {
            assert_eq!(stored_time(time), expected, "{time:?}");
        };
        let second = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        check(second, second);
        check(
            second + Duration::from_nanos(1_234_567),
            second + Duration::from_micros(1_234),
        );
        // Before 2000, the driver truncates toward 2000, that is upward.
        let early = UNIX_EPOCH + Duration::from_secs(10);
        check(
            early + Duration::from_nanos(1_999),
            early + Duration::from_micros(2),
        );
    }

    #[test]
    fn statements_select_the_same_columns() {
        for statement in [
            GET,
            GET_MANY,
            CLAIM,
            HEARTBEAT,
            COMPLETE,
            COMPLETE_BATCH,
            FAIL,
            CANCEL,
            RESCUE_EXPIRED,
        ] {
            assert!(statement.contains(job_columns!()), "{statement}");
        }
        assert!(list(&[], 1).contains(job_columns!()));
    }
}
