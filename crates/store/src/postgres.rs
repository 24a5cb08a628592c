//! The PostgreSQL adapter: many worker machines sharing one queue.
//!
//! - **Schema.** One table, `stanchion_jobs`, in the schema the builder names (`public` by
//!   default), created at connect by the numbered migrations in `migrations/postgres/` (see
//!   `migrate`). CHECK constraints hold the job invariants (exactly the running jobs have a lease,
//!   exactly the final states have `completed_at`, ...), so no writer can break them. Every pooled
//!   connection starts with `search_path` set to the schema, so statements name tables unqualified.
//! - **Claims** are one `UPDATE ... WHERE id IN (SELECT ... ORDER BY priority DESC, run_at, id
//!   LIMIT n FOR UPDATE SKIP LOCKED) RETURNING ...`, served by a partial index on the claimable
//!   rows: concurrent claims skip each other's rows instead of waiting for them.
//! - **Fenced updates** (heartbeat, complete, fail) are one `UPDATE ... WHERE id = $1 AND state =
//!   'running' AND attempt = $2`; when it changes nothing, the job is read back and the shared
//!   `rules` say why, so the errors are the memory adapter's word for word.
//! - **Time** comes from the store's clock as parameters, never from `now()`, so a `ManualClock`
//!   drives it. `timestamptz` keeps microseconds: times are stored to the microsecond.
//! - **Wake-ups.** Inserting runnable jobs, and failures or rescues that make jobs runnable,
//!   `pg_notify` the channel `<schema>.stanchion_jobs` in the same statement (so only a committed
//!   change wakes anyone, and two schemas never wake each other). One dedicated connection per
//!   store `LISTEN`s (see `listen`); [`PostgresStore::wait_for_jobs`] returns at a notification or
//!   at its polling deadline.
//!
//! A worker loop:
//!
//! ```no_run
//! use std::time::Duration;
//! use stanchion_store::{JobStore, PostgresStore, StoreError};
//!
//! # async fn work() -> Result<(), StoreError> {
//! let store = PostgresStore::builder("postgres://app@db.internal/app")
//!     .schema("jobs")
//!     .connect()
//!     .await?;
//! loop {
//!     let jobs = store.claim("worker-1", 100, Duration::from_secs(30)).await?;
//!     if jobs.is_empty() {
//!         store.wait_for_jobs(Duration::from_secs(30)).await;
//!         continue;
//!     }
//!     // ... run the jobs ...
//!     let done: Vec<_> = jobs.iter().map(|job| (job.id, job.attempt)).collect();
//!     for outcome in store.complete_batch(&done).await? {
//!         if let Err(StoreError::Conflict { .. }) = outcome {
//!             // Our lease ended and another attempt owns that job now.
//!         }
//!     }
//! }
//! # }
//! ```

mod listen;
mod migrate;
mod sql;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use stanchion_core::{Clock, SystemClock};
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row};

use crate::job::{Job, JobId, JobState, NewJob};
use crate::store::{JobStore, ListFilter, Page, StoreError, rules};
use listen::Listener;
use sql::job_from_row;

const DEFAULT_SCHEMA: &str = "public";
const DEFAULT_POOL_SIZE: usize = 10;
const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(1);
/// The notification channel `<schema>.stanchion_jobs` must fit PostgreSQL's 63-byte names.
const MAX_SCHEMA_LEN: usize = 63 - ".stanchion_jobs".len();
/// `max_attempts` is an `integer` column; larger values are stored as this.
const MAX_STORED_ATTEMPTS: u32 = i32::MAX as u32;
/// How often a fenced update is retried when the job changed between its `UPDATE` and the read
/// that explains why nothing was updated.
const FENCED_UPDATE_TRIES: usize = 3;

/// A [`JobStore`] in PostgreSQL, for many worker machines sharing one queue.
///
/// Cloning is cheap and clones share the connection pool and the wake-up listener. Times are
/// stored to the microsecond (`timestamptz`), so a job read back carries its times truncated to
/// microseconds; [`JobStore::insert`] returns them already truncated. `max_attempts` above
/// `i32::MAX` is stored as `i32::MAX`.
///
/// Connections use no TLS, and set `search_path` to the store's schema with the startup option
/// `-c search_path=<schema>`: a connection pooler in between must pass startup options through
/// and keep sessions (`LISTEN` needs one too), so PgBouncer in transaction mode does not fit.
///
/// Besides the [`JobStore`] methods: [`complete_batch`](Self::complete_batch) completes many jobs
/// in one statement, and [`wait_for_jobs`](Self::wait_for_jobs) waits for runnable jobs.
///
/// # Examples
///
/// ```no_run
/// use std::time::Duration;
/// use stanchion_store::{JobStore, NewJob, PostgresStore};
///
/// # async fn example() -> Result<(), stanchion_store::StoreError> {
/// let store = PostgresStore::connect("postgres://app@db.internal/app").await?;
/// store.insert(NewJob::new("send_email", b"to=ada".to_vec())).await?;
/// let jobs = store.claim("worker-1", 10, Duration::from_secs(30)).await?;
/// store.complete(jobs[0].id, jobs[0].attempt).await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct PostgresStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    clock: Arc<dyn Clock>,
    schema: String,
    /// `<schema>.stanchion_jobs`, notified when jobs become runnable.
    channel: String,
    poll_interval: Duration,
    listener: Listener,
}

/// Configures and connects a [`PostgresStore`].
///
/// Defaults: schema `public`, 10 pooled connections (plus one for wake-ups), the system clock,
/// a 1 s poll interval.
///
/// # Examples
///
/// ```no_run
/// use std::sync::Arc;
/// use std::time::Duration;
/// use stanchion_core::SystemClock;
/// use stanchion_store::PostgresStore;
///
/// # async fn example() -> Result<(), stanchion_store::StoreError> {
/// let store = PostgresStore::builder("host=db.internal user=app dbname=app")
///     .schema("jobs")
///     .pool_size(16)
///     .clock(Arc::new(SystemClock))
///     .poll_interval(Duration::from_secs(5))
///     .connect()
///     .await?;
/// assert_eq!(store.schema(), "jobs");
/// # Ok(())
/// # }
/// ```
pub struct PostgresStoreBuilder {
    url: String,
    schema: String,
    pool_size: usize,
    clock: Arc<dyn Clock>,
    poll_interval: Duration,
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user:password@host:port/database`, or
    /// `key=value` pairs) with the defaults of [`PostgresStoreBuilder`], and applies the
    /// migrations the schema lacks.
    ///
    /// # Errors
    ///
    /// [`StoreError::Storage`] naming what failed: an invalid URL, a connection or migration
    /// failure.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::builder(url).connect().await
    }

    /// A builder for a store on the database at `url`.
    pub fn builder(url: impl Into<String>) -> PostgresStoreBuilder {
        PostgresStoreBuilder {
            url: url.into(),
            schema: DEFAULT_SCHEMA.to_owned(),
            pool_size: DEFAULT_POOL_SIZE,
            clock: Arc::new(SystemClock),
            poll_interval: DEFAULT_POLL_INTERVAL,
        }
    }

    /// The schema holding the store's tables.
    pub fn schema(&self) -> &str {
        &self.inner.schema
    }

    /// Completes many running jobs in one statement, as [`JobStore::complete`] would one by one.
    ///
    /// Returns one result per `(id, attempt)`, in order: the completed job, or the
    /// [`StoreError::NotFound`] or [`StoreError::Conflict`] that `complete` would give (an id
    /// given twice is completed once; the second gets a Conflict).
    ///
    /// # Errors
    ///
    /// [`StoreError::Storage`] when the database fails; then no result is known.
    pub async fn complete_batch(
        &self,
        done: &[(JobId, u32)],
    ) -> Result<Vec<Result<Job, StoreError>>, StoreError> {
        if done.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<uuid::Uuid> = done.iter().map(|(id, _)| id.0).collect();
        let attempts: Vec<i64> = done.iter().map(|&(_, attempt)| attempt.into()).collect();
        let rows = self
            .query(
                "complete_batch",
                sql::COMPLETE_BATCH,
                &[&ids, &attempts, &self.now()],
            )
            .await?;
        let mut completed: HashMap<JobId, Job> = sql::jobs_from_rows(&rows)?
            .into_iter()
            .map(|job| (job.id, job))
            .collect();
        let mut results: Vec<Option<Result<Job, StoreError>>> = done
            .iter()
            .map(|&(id, attempt)| match completed.get(&id) {
                // An id given twice was completed once: the first match takes it.
                Some(job) if job.attempt == attempt => completed.remove(&id).map(Ok),
                _ => None,
            })
            .collect();
        let refused: Vec<usize> = (0..done.len()).filter(|&i| results[i].is_none()).collect();
        if !refused.is_empty() {
            let ids = refused.iter().map(|&i| done[i].0).collect();
            let current = self.get_many(ids).await?;
            for (&i, job) in refused.iter().zip(current) {
                let (id, attempt) = done[i];
                results[i] = Some(match job {
                    None => Err(StoreError::NotFound(id)),
                    Some(job) => match rules::running_at(&job, attempt) {
                        Err(conflict) => Err(conflict),
                        // It became completable after the batch: complete it on its own.
                        Ok(()) => self.complete(id, attempt).await,
                    },
                });
            }
        }
        Ok(results.into_iter().flatten().collect())
    }

    /// Waits until jobs may be runnable: returns when another store (or this one) inserts a
    /// runnable job or makes one runnable again, or after `timeout` or the poll interval,
    /// whichever comes first. Then [`claim`](JobStore::claim).
    ///
    /// Notifications are not queued: one that arrives while no one waits is covered by the poll
    /// interval, as are scheduled jobs coming due. If the listening connection drops, waits run
    /// to the poll interval while it reconnects.
    pub async fn wait_for_jobs(&self, timeout: Duration) {
        let wait = timeout.min(self.inner.poll_interval);
        self.inner.listener.wait(wait).await;
    }

    /// The clock's time, at the precision PostgreSQL stores.
    fn now(&self) -> SystemTime {
        sql::stored_time(self.inner.clock.wall())
    }

    async fn client(&self) -> Result<Object, StoreError> {
        self.inner.pool.get().await.storage("connecting")
    }

    /// Runs `statement` (prepared once per connection) with `params`.
    async fn query(
        &self,
        doing: &str,
        statement: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, StoreError> {
        let client = self.client().await?;
        let prepared = client.prepare_cached(statement).await.storage(doing)?;
        client.query(&prepared, params).await.storage(doing)
    }

    /// Runs `statement`, an `UPDATE` of job `id` that returns the row if the job's state allowed
    /// the change. When it changed nothing, reads the job to say why: [`StoreError::NotFound`],
    /// or the Conflict that `refused` finds.
    async fn fenced_update(
        &self,
        doing: &str,
        id: JobId,
        statement: &str,
        params: &[&(dyn ToSql + Sync)],
        refused: impl Fn(&Job) -> Result<(), StoreError>,
    ) -> Result<Job, StoreError> {
        for _ in 0..FENCED_UPDATE_TRIES {
            if let Some(row) = self.query(doing, statement, params).await?.first() {
                return job_from_row(row);
            }
            refused(&self.get(id).await?)?;
            // The job changed between the two statements into one the update accepts.
        }
        Err(StoreError::Conflict {
            id,
            reason: format!("changed concurrently during {doing}"),
        })
    }
}

impl PostgresStoreBuilder {
    /// The schema for the tables: a plain lowercase identifier (`[a-z_][a-z0-9_]*`, at most 48
    /// bytes, not starting with `pg_`), created if missing. Default `public`.
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = schema.into();
        self
    }

    /// The most pooled connections; at least 1. Default 10. The store opens one more for
    /// wake-ups.
    pub fn pool_size(mut self, size: usize) -> Self {
        self.pool_size = size;
        self
    }

    /// The clock that job times come from. Default: the system clock.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The longest [`PostgresStore::wait_for_jobs`] waits without a notification; more than
    /// zero. Default 1 s.
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// Checks the configuration, connects, applies the migrations the schema lacks, and starts
    /// listening for wake-ups.
    ///
    /// # Errors
    ///
    /// [`StoreError::Storage`] naming what failed: an invalid setting (schema name, pool size,
    /// poll interval, URL), a connection, or a migration.
    pub async fn connect(self) -> Result<PostgresStore, StoreError> {
        self.check()?;
        let mut config: tokio_postgres::Config = self
            .url
            .parse()
            .map_err(|e| invalid(format!("connection url: {e}")))?;
        let search_path = format!("-c search_path={}", self.schema);
        let options = match config.get_options() {
            Some(options) if !options.is_empty() => format!("{options} {search_path}"),
            _ => search_path,
        };
        config.options(options);
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(self.pool_size)
            .build()
            .storage("building the connection pool")?;
        migrate::run(&pool, &self.schema, sql::stored_time(self.clock.wall())).await?;
        let channel = format!("{}.stanchion_jobs", self.schema);
        let listener = Listener::start(config, channel.clone())
            .await
            .storage("opening the LISTEN connection")?;
        Ok(PostgresStore {
            inner: Arc::new(Inner {
                pool,
                clock: self.clock,
                schema: self.schema,
                channel,
                poll_interval: self.poll_interval,
                listener,
            }),
        })
    }

    fn check(&self) -> Result<(), StoreError> {
        check_schema(&self.schema)
            .map_err(|why| invalid(format!("schema {:?} {why}", self.schema)))?;
        if self.pool_size == 0 {
            return Err(invalid("pool_size 0: at least 1 connection is needed"));
        }
        if self.poll_interval.is_zero() {
            return Err(invalid("poll_interval 0: it must be more than zero"));
        }
        Ok(())
    }
}

/// Why `schema` is not a name the store accepts; the store quotes it into SQL and into the
/// notification channel, so it must be plain.
fn check_schema(schema: &str) -> Result<(), &'static str> {
    let plain =
        |(i, c): (usize, char)| c.is_ascii_lowercase() || c == '_' || (i > 0 && c.is_ascii_digit());
    if schema.is_empty() {
        return Err("is empty");
    }
    if !schema.char_indices().all(plain) {
        return Err(
            "is not a plain identifier: use lowercase ASCII letters, digits and '_', \
             not starting with a digit",
        );
    }
    if schema.len() > MAX_SCHEMA_LEN {
        return Err("is longer than 48 bytes");
    }
    if schema.starts_with("pg_") {
        return Err("starts with pg_, which PostgreSQL reserves");
    }
    Ok(())
}

fn invalid(what: impl fmt::Display) -> StoreError {
    StoreError::Config(what.to_string())
}

/// Turns driver and pool errors into [`StoreError::Storage`], saying what the store was doing.
trait Context<T> {
    fn storage(self, doing: &str) -> Result<T, StoreError>;
}

impl<T, E: std::error::Error + 'static> Context<T> for Result<T, E> {
    fn storage(self, doing: &str) -> Result<T, StoreError> {
        self.map_err(|error| StoreError::Storage(format!("{doing}: {}", describe(&error))))
    }
}

/// `error` and its causes on one line (the driver's own message is only `db error`).
fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(error) = cause {
        let message = error.to_string();
        if !text.ends_with(&message) {
            text = format!("{text}: {message}");
        }
        cause = error.source();
    }
    text
}

/// The `WHERE` conditions and parameters of a [`JobStore::list`] query.
#[derive(Default)]
struct Conditions {
    sql: Vec<String>,
    params: Vec<Box<dyn ToSql + Sync + Send>>,
}

impl Conditions {
    /// Adds `<comparison> $n` with `value` as parameter `n`.
    fn and(&mut self, comparison: &str, value: impl ToSql + Sync + Send + 'static) {
        self.params.push(Box::new(value));
        self.sql
            .push(format!("{comparison} ${}", self.params.len()));
    }
}

impl JobStore for PostgresStore {
    async fn insert_batch(&self, jobs: Vec<NewJob>) -> Result<Vec<Job>, StoreError> {
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        let now = self.now();
        let jobs: Vec<Job> = jobs
            .into_iter()
            .map(|new| {
                let mut job = new.into_job(now);
                job.run_at = sql::stored_time(job.run_at);
                job.max_attempts = job.max_attempts.min(MAX_STORED_ATTEMPTS);
                job
            })
            .collect();
        let ids: Vec<uuid::Uuid> = jobs.iter().map(|j| j.id.0).collect();
        let names: Vec<&str> = jobs.iter().map(|j| &*j.name).collect();
        let tenants: Vec<Option<&str>> = jobs.iter().map(|j| j.tenant.as_deref()).collect();
        let priorities: Vec<i16> = jobs.iter().map(|j| j.priority).collect();
        let states: Vec<&str> = jobs.iter().map(|j| sql::state_name(j.state)).collect();
        let payloads: Vec<&[u8]> = jobs.iter().map(|j| &*j.payload).collect();
        let max_attempts: Vec<i32> = jobs
            .iter()
            .map(|j| i32::try_from(j.max_attempts).unwrap_or(i32::MAX))
            .collect();
        let run_at: Vec<SystemTime> = jobs.iter().map(|j| j.run_at).collect();
        let params: [&(dyn ToSql + Sync); 10] = [
            &ids,
            &names,
            &tenants,
            &priorities,
            &states,
            &payloads,
            &max_attempts,
            &run_at,
            &now,
            &self.inner.channel,
        ];
        self.query("insert", sql::INSERT, &params).await?;
        Ok(jobs)
    }

    async fn get(&self, id: JobId) -> Result<Job, StoreError> {
        match self.query("get", sql::GET, &[&id.0]).await?.first() {
            Some(row) => job_from_row(row),
            None => Err(StoreError::NotFound(id)),
        }
    }

    async fn get_many(&self, ids: Vec<JobId>) -> Result<Vec<Option<Job>>, StoreError> {
        let keys: Vec<uuid::Uuid> = ids.iter().map(|id| id.0).collect();
        let rows = self.query("get_many", sql::GET_MANY, &[&keys]).await?;
        let found: HashMap<JobId, Job> = sql::jobs_from_rows(&rows)?
            .into_iter()
            .map(|job| (job.id, job))
            .collect();
        Ok(ids.iter().map(|id| found.get(id).cloned()).collect())
    }

    async fn list(
        &self,
        filter: ListFilter,
        cursor: Option<JobId>,
        limit: usize,
    ) -> Result<Page, StoreError> {
        let mut conditions = Conditions::default();
        if let Some(state) = filter.state {
            conditions.and("state =", sql::state_name(state));
        }
        if let Some(tenant) = filter.tenant {
            conditions.and("tenant =", tenant);
        }
        if let Some(name) = filter.name {
            conditions.and("name =", name);
        }
        if let Some(from) = filter.created_from {
            conditions.and("created_at >=", from);
        }
        if let Some(until) = filter.created_until {
            conditions.and("created_at <", until);
        }
        if let Some(cursor) = cursor {
            conditions.and("id >", cursor.0);
        }
        // One more than asked tells whether there is a next page.
        let fetch = i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX);
        conditions.params.push(Box::new(fetch));
        let statement = sql::list(&conditions.sql, conditions.params.len());
        let params: Vec<&(dyn ToSql + Sync)> = conditions
            .params
            .iter()
            .map(|param| &**param as &(dyn ToSql + Sync))
            .collect();
        let rows = self.query("list", &statement, &params).await?;
        let mut jobs = sql::jobs_from_rows(&rows)?;
        let more = jobs.len() > limit;
        jobs.truncate(limit);
        Ok(Page::new(jobs, more))
    }

    async fn count_by_state(&self) -> Result<BTreeMap<JobState, u64>, StoreError> {
        let rows = self
            .query("count_by_state", sql::COUNT_BY_STATE, &[])
            .await?;
        rows.iter()
            .map(|row| {
                let state = sql::parse_state(sql::column(row, "state")?)?;
                let count: i64 = sql::column(row, "count")?;
                Ok((state, count.unsigned_abs()))
            })
            .collect()
    }

    async fn claim(
        &self,
        worker: &str,
        max: usize,
        lease: Duration,
    ) -> Result<Vec<Job>, StoreError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let now = self.now();
        let until = crate::job::later(now, lease);
        let max = i64::try_from(max).unwrap_or(i64::MAX);
        let rows = self
            .query("claim", sql::CLAIM, &[&now, &worker, &until, &max])
            .await?;
        let mut jobs = sql::jobs_from_rows(&rows)?;
        jobs.sort_by_key(sql::claim_order);
        Ok(jobs)
    }

    async fn heartbeat(&self, id: JobId, attempt: u32, lease: Duration) -> Result<Job, StoreError> {
        let until = crate::job::later(self.now(), lease);
        let params: [&(dyn ToSql + Sync); 3] = [&id.0, &i64::from(attempt), &until];
        self.fenced_update("heartbeat", id, sql::HEARTBEAT, &params, |job| {
            rules::running_at(job, attempt)
        })
        .await
    }

    async fn complete(&self, id: JobId, attempt: u32) -> Result<Job, StoreError> {
        let params: [&(dyn ToSql + Sync); 3] = [&id.0, &i64::from(attempt), &self.now()];
        self.fenced_update("complete", id, sql::COMPLETE, &params, |job| {
            rules::running_at(job, attempt)
        })
        .await
    }

    async fn fail(
        &self,
        id: JobId,
        attempt: u32,
        error: &str,
        retry_at: SystemTime,
    ) -> Result<Job, StoreError> {
        let params: [&(dyn ToSql + Sync); 6] = [
            &id.0,
            &i64::from(attempt),
            &error,
            &retry_at,
            &self.now(),
            &self.inner.channel,
        ];
        self.fenced_update("fail", id, sql::FAIL, &params, |job| {
            rules::running_at(job, attempt)
        })
        .await
    }

    async fn cancel(&self, id: JobId) -> Result<Job, StoreError> {
        let now = self.now();
        self.fenced_update("cancel", id, sql::CANCEL, &[&id.0, &now], |job| {
            rules::cancel(&mut job.clone(), now)
        })
        .await
    }

    async fn rescue_expired(&self, now: SystemTime) -> Result<Vec<Job>, StoreError> {
        let rows = self
            .query(
                "rescue_expired",
                sql::RESCUE_EXPIRED,
                &[&now, &self.inner.channel],
            )
            .await?;
        let mut jobs = sql::jobs_from_rows(&rows)?;
        jobs.sort_by_key(|job| job.id);
        Ok(jobs)
    }
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = self.inner.pool.status();
        f.debug_struct("PostgresStore")
            .field("schema", &self.inner.schema)
            .field("connections", &status.size)
            .field("max_connections", &status.max_size)
            .field("poll_interval", &self.inner.poll_interval)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for PostgresStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL is left out: it may hold a password.
        f.debug_struct("PostgresStoreBuilder")
            .field("schema", &self.schema)
            .field("pool_size", &self.pool_size)
            .field("clock", &self.clock)
            .field("poll_interval", &self.poll_interval)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names() {
        let check = |schema: &str, ok: bool| {
            assert_eq!(check_schema(schema).is_ok(), ok, "{schema:?}");
        };
        assert_eq!(MAX_SCHEMA_LEN, 48, "the error message says 48");
        check("public", true);
        check("_jobs_2", true);
        check(&"a".repeat(MAX_SCHEMA_LEN), true);
        check(&"a".repeat(MAX_SCHEMA_LEN + 1), false);
        check("", false);
        check("2jobs", false);
        check("Jobs", false);
        check("jobs-eu", false);
        check("jobs\"; drop table x; --", false);
        check("pg_jobs", false);
    }

    #[test]
    fn public_types_are_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<PostgresStore>();
        assert_send_sync::<PostgresStoreBuilder>();
    }
}
