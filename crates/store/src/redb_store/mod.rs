//! [`RedbStore`]: the embedded adapter, one redb file with secondary indexes, a single writer
//! thread that group-commits, and a read-through cache updated only after commit.

mod cache;
mod tables;
mod writer;

use std::collections::BTreeMap;
use std::ops::Bound::{Excluded, Included, Unbounded};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use redb::{CompactionError, Database, ReadTransaction, ReadableDatabase};
use stanchion_core::{Clock, SystemClock};
use tokio::sync::{mpsc, oneshot};

use self::cache::ReadCache;
use self::tables::{BY_STATE, BY_TENANT, COUNTS, JOBS, at, key, load, storage};
use self::writer::Command;
use crate::job::{Job, JobId, JobState, NewJob};
use crate::store::{JobStore, ListFilter, Page, StoreError, rules};

/// The embedded job store: one redb file, safe against crashes, for one process.
///
/// - **Writes** go to a single writer thread. Operations that arrive while a commit is syncing
///   are committed together in the next transaction, so concurrent callers share one fsync; a
///   caller's future resolves once its write is durable. Async callers never block: they wait on
///   a channel, and a full queue makes them wait for room.
/// - **Reads** of single jobs go through a read-through cache (a [`stanchion_cache::Cache`]) that
///   the writer updates only after each commit, so it never shows a write that could still be
///   lost. Cache misses, lists and counts read a snapshot on tokio's blocking pool.
/// - **Indexes**: runnable jobs in claim order, waiting jobs by `run_at`, leases by expiry,
///   jobs by state and by tenant, and per-state counts, so no operation scans the whole file
///   except a `list` filtered only by name or time.
///
/// Methods must be called within a tokio runtime. Dropping the last handle blocks until what is
/// queued has committed, then closes the file (a read abandoned mid-flight holds it until it ends).
///
/// ```
/// use std::time::Duration;
/// use stanchion_store::{JobStore, NewJob, RedbStore};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let dir = std::env::temp_dir().join(format!("stanchion-doc-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir).unwrap();
/// let store = RedbStore::open(dir.join("jobs.redb"))?;
/// let job = store.insert(NewJob::new("send_email", b"to=ada".to_vec())).await?;
/// let claimed = store.claim("worker-1", 10, Duration::from_secs(30)).await?;
/// store.complete(job.id, claimed[0].attempt).await?;
/// # drop(store); std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), stanchion_store::StoreError>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct RedbStore {
    shared: Arc<Shared>,
}

/// What every handle shares; dropping the last one stops the writer.
struct Shared {
    path: PathBuf,
    core: Arc<Core>,
    /// `None` only while dropping.
    queue: Option<mpsc::Sender<Command>>,
    writer: Option<JoinHandle<()>>,
}

/// What the writer thread and the readers share.
struct Core {
    /// Written to only by `compact`, which needs the database to itself.
    db: RwLock<Database>,
    cache: ReadCache,
    clock: Arc<dyn Clock>,
    commits: AtomicU64,
    writes: AtomicU64,
}

impl Core {
    fn db(&self) -> RwLockReadGuard<'_, Database> {
        self.db.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Compacts the file; waits for reads that already began, while new ones wait for it.
    fn compact(&self) -> Result<bool, StoreError> {
        let mut db = self.db.write().unwrap_or_else(PoisonError::into_inner);
        let mut attempts = 0;
        loop {
            match db.compact() {
                Err(CompactionError::TransactionInProgress) if attempts < 1000 => {
                    attempts += 1;
                    std::thread::sleep(Duration::from_millis(1));
                }
                result => return result.map_err(|e| storage("compact", e)),
            }
        }
    }
}

/// Counters of a [`RedbStore`]'s writer: `writes / commits` is the mean group size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RedbStats {
    /// Durable commits, each one fsync.
    pub commits: u64,
    /// Write operations committed (an `insert_batch` or a `claim` is one).
    pub writes: u64,
}

/// Options for [`RedbStore`]: `RedbStore::builder(path).cache_capacity(50_000).open()`.
pub struct RedbStoreBuilder {
    path: PathBuf,
    cache_capacity: u64,
    clock: Arc<dyn Clock>,
}

impl RedbStoreBuilder {
    /// Jobs the read-through cache holds at most (default 100,000); zero turns it off.
    pub fn cache_capacity(mut self, jobs: u64) -> Self {
        self.cache_capacity = jobs;
        self
    }

    /// Reads time from `clock` (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Opens the file, creating it if it does not exist, and starts the writer thread.
    ///
    /// A file that is not a redb database, is damaged, is a redb database of another program, or
    /// is open in another process gives [`StoreError::Storage`] naming the path and the cause.
    pub fn open(self) -> Result<RedbStore, StoreError> {
        let in_file = |error: StoreError| match error {
            StoreError::Storage(cause) => {
                StoreError::Storage(format!("{}: {cause}", self.path.display()))
            }
            other => other,
        };
        // redb checks some invariants of the file with debug assertions; a damaged file must
        // still be an error, not a panic.
        let db = catch_unwind(AssertUnwindSafe(|| Database::create(&self.path)))
            .map_err(|_| storage("open", "the file is damaged (redb panicked reading it)"))
            .and_then(|opened| opened.map_err(|e| storage("open", e)))
            .map_err(in_file)?;
        let txn = db
            .begin_write()
            .map_err(|e| in_file(storage("begin a write", e)))?;
        tables::prepare(&txn).map_err(in_file)?;
        txn.commit().map_err(|e| in_file(storage("commit", e)))?;

        let core = Arc::new(Core {
            db: RwLock::new(db),
            cache: ReadCache::new(self.cache_capacity),
            clock: self.clock,
            commits: AtomicU64::new(0),
            writes: AtomicU64::new(0),
        });
        let (queue, commands) = mpsc::channel(writer::QUEUE);
        let writer = std::thread::Builder::new()
            .name("stanchion-redb-writer".into())
            .spawn({
                let core = Arc::clone(&core);
                move || writer::run(core, commands)
            })
            .map_err(|e| in_file(storage("start the writer thread", e)))?;
        Ok(RedbStore {
            shared: Arc::new(Shared {
                path: self.path,
                core,
                queue: Some(queue),
                writer: Some(writer),
            }),
        })
    }
}

impl std::fmt::Debug for RedbStoreBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbStoreBuilder")
            .field("path", &self.path)
            .field("cache_capacity", &self.cache_capacity)
            .finish_non_exhaustive()
    }
}

impl RedbStore {
    /// Opens (or creates) the store at `path` with the default options.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::builder(path).open()
    }

    /// Options for opening the store at `path`.
    pub fn builder(path: impl AsRef<Path>) -> RedbStoreBuilder {
        RedbStoreBuilder {
            path: path.as_ref().to_owned(),
            cache_capacity: 100_000,
            clock: Arc::new(SystemClock),
        }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// How many writes were committed, in how many commits (each one fsync).
    pub fn stats(&self) -> RedbStats {
        let core = &self.shared.core;
        RedbStats {
            commits: core.commits.load(Ordering::Relaxed),
            writes: core.writes.load(Ordering::Relaxed),
        }
    }

    /// Compacts the file, returning the space of deleted and rewritten pages; `false` when
    /// there was nothing to gain. Writes and reads wait while it runs.
    pub async fn compact(&self) -> Result<bool, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Compact(reply)).await?;
        answer.await.map_err(|_| writer_stopped())?
    }

    async fn send(&self, command: Command) -> Result<(), StoreError> {
        let queue = self.shared.queue.as_ref().ok_or_else(writer_stopped)?;
        queue.send(command).await.map_err(|_| writer_stopped())
    }

    /// Runs `f` in the writer's next group commit; resolves once that commit is durable.
    async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut tables::Tables<'_>) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (command, answer) = writer::op(f);
        self.send(command).await?;
        answer.await.map_err(|_| writer_stopped())?
    }

    /// Changes job `id` in the writer's next group commit.
    async fn change(&self, id: JobId, change: impl rules::Change) -> Result<Job, StoreError> {
        self.write(move |tables| tables.update(id, change)).await
    }

    /// Runs `f` on a read snapshot, on the blocking pool.
    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&ReadTransaction) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let core = Arc::clone(&self.shared.core);
        tokio::task::spawn_blocking(move || {
            let txn = core
                .db()
                .begin_read()
                .map_err(|e| storage("begin a read", e))?;
            f(&txn)
        })
        .await
        .map_err(|e| StoreError::Storage(format!("a read task failed: {e}")))?
    }
}

fn writer_stopped() -> StoreError {
    StoreError::Storage("redb: the writer thread stopped".into())
}

impl Drop for Shared {
    fn drop(&mut self) {
        // Closing the queue lets the writer commit what is queued and end.
        drop(self.queue.take());
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

impl std::fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbStore")
            .field("path", &self.shared.path)
            .finish_non_exhaustive()
    }
}

/// Collects up to `limit` jobs matching a filter, noting whether more follow.
struct Collect<'f> {
    filter: &'f ListFilter,
    limit: usize,
    jobs: Vec<Job>,
    more: bool,
}

impl Collect<'_> {
    /// Takes `job` if it matches; `false` once the page is full and one more matched.
    fn offer(&mut self, job: Job) -> bool {
        if !self.filter.matches(&job) {
            return true;
        }
        if self.jobs.len() == self.limit {
            self.more = true;
            return false;
        }
        self.jobs.push(job);
        true
    }

    fn page(self) -> Page {
        Page::new(self.jobs, self.more)
    }
}

/// `list` on a snapshot, through the most selective index the filter allows.
fn list_in(
    txn: &ReadTransaction,
    filter: &ListFilter,
    cursor: Option<JobId>,
    limit: usize,
) -> Result<Page, StoreError> {
    let jobs = txn.open_table(JOBS).map_err(at("list jobs"))?;
    let after = cursor.map(key);
    let mut collect = Collect {
        filter,
        limit,
        jobs: Vec::new(),
        more: false,
    };
    let indexed = |id: u128| {
        load(&jobs, tables::id(id))?.ok_or_else(|| {
            StoreError::Codec(format!(
                "an index names job {} but it is missing",
                tables::id(id)
            ))
        })
    };
    if let Some(tenant) = filter.tenant.as_deref() {
        let index = txn.open_table(BY_TENANT).map_err(at("list jobs"))?;
        let from = after.map_or(Included((tenant, 0)), |id| Excluded((tenant, id)));
        let wanted = filter.state.map(tables::state_code);
        for entry in index
            .range((from, Included((tenant, u128::MAX))))
            .map_err(at("list jobs"))?
        {
            let (k, state) = entry.map_err(at("list jobs"))?;
            if wanted.is_some_and(|w| w != state.value()) {
                continue;
            }
            if !collect.offer(indexed(k.value().1)?) {
                break;
            }
        }
    } else if let Some(state) = filter.state.map(tables::state_code) {
        let index = txn.open_table(BY_STATE).map_err(at("list jobs"))?;
        let from = after.map_or(Included((state, 0)), |id| Excluded((state, id)));
        for entry in index
            .range((from, Included((state, u128::MAX))))
            .map_err(at("list jobs"))?
        {
            if !collect.offer(indexed(entry.map_err(at("list jobs"))?.0.value().1)?) {
                break;
            }
        }
    } else {
        let from = after.map_or(Unbounded, Excluded);
        for entry in jobs
            .range::<u128>((from, Unbounded))
            .map_err(at("list jobs"))?
        {
            let (k, bytes) = entry.map_err(at("list jobs"))?;
            if !collect.offer(tables::decode(k.value(), bytes.value())?) {
                break;
            }
        }
    }
    Ok(collect.page())
}

impl JobStore for RedbStore {
    async fn insert_batch(&self, jobs: Vec<NewJob>) -> Result<Vec<Job>, StoreError> {
        self.write(move |tables| {
            let now = tables.now;
            let jobs: Vec<Job> = jobs.into_iter().map(|j| j.into_job(now)).collect();
            for job in &jobs {
                tables.put(None, job)?;
            }
            Ok(jobs)
        })
        .await
    }

    async fn get(&self, id: JobId) -> Result<Job, StoreError> {
        let cache = &self.shared.core.cache;
        if let Some(job) = cache.get(id) {
            return Ok(job);
        }
        let epoch = cache.epoch(id);
        let job = self
            .read(move |txn| load(&txn.open_table(JOBS).map_err(|e| storage("get", e))?, id))
            .await?
            .ok_or(StoreError::NotFound(id))?;
        cache.fill(&job, epoch);
        Ok(job)
    }

    async fn get_many(&self, ids: Vec<JobId>) -> Result<Vec<Option<Job>>, StoreError> {
        let cache = &self.shared.core.cache;
        let mut found: Vec<Option<Job>> = ids.iter().map(|&id| cache.get(id)).collect();
        let missing: Vec<(usize, JobId, u64)> = ids
            .iter()
            .enumerate()
            .filter(|(i, _)| found[*i].is_none())
            .map(|(i, &id)| (i, id, cache.epoch(id)))
            .collect();
        if missing.is_empty() {
            return Ok(found);
        }
        let loaded = self
            .read(move |txn| {
                let jobs = txn.open_table(JOBS).map_err(|e| storage("get_many", e))?;
                missing
                    .into_iter()
                    .map(|(i, id, epoch)| Ok((i, load(&jobs, id)?, epoch)))
                    .collect::<Result<Vec<_>, StoreError>>()
            })
            .await?;
        for (i, job, epoch) in loaded {
            if let Some(job) = &job {
                cache.fill(job, epoch);
            }
            found[i] = job;
        }
        Ok(found)
    }

    async fn list(
        &self,
        filter: ListFilter,
        cursor: Option<JobId>,
        limit: usize,
    ) -> Result<Page, StoreError> {
        self.read(move |txn| list_in(txn, &filter, cursor, limit))
            .await
    }

    async fn count_by_state(&self) -> Result<BTreeMap<JobState, u64>, StoreError> {
        self.read(|txn| tables::counts(&txn.open_table(COUNTS).map_err(|e| storage("count", e))?))
            .await
    }

    async fn claim(
        &self,
        worker: &str,
        max: usize,
        lease: Duration,
    ) -> Result<Vec<Job>, StoreError> {
        let worker: Arc<str> = worker.into();
        self.write(move |tables| {
            let ids = tables.take_ready(max)?;
            ids.into_iter()
                .map(|id| {
                    let worker = Arc::clone(&worker);
                    tables.update(id, move |job, now| {
                        rules::claim(job, &worker, now, lease);
                        Ok(())
                    })
                })
                .collect()
        })
        .await
    }

    async fn heartbeat(&self, id: JobId, attempt: u32, lease: Duration) -> Result<Job, StoreError> {
        self.change(id, rules::heartbeat(attempt, lease)).await
    }

    async fn complete(&self, id: JobId, attempt: u32) -> Result<Job, StoreError> {
        self.change(id, rules::complete_attempt(attempt)).await
    }

    async fn fail(
        &self,
        id: JobId,
        attempt: u32,
        error: &str,
        retry_at: SystemTime,
    ) -> Result<Job, StoreError> {
        self.change(id, rules::fail_attempt(attempt, error, retry_at))
            .await
    }

    async fn cancel(&self, id: JobId) -> Result<Job, StoreError> {
        self.change(id, rules::cancel).await
    }

    async fn rescue_expired(&self, now: SystemTime) -> Result<Vec<Job>, StoreError> {
        self.write(move |tables| {
            let mut ids = tables.expired(now)?;
            ids.sort_unstable(); // in id order, as every adapter returns them
            ids.into_iter()
                .map(|id| tables.update(id, move |job, _| rules::rescue(job, now)))
                .collect()
        })
        .await
    }
}
