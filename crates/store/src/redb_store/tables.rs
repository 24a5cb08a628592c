//! The file's layout: the jobs table, its secondary indexes, the per-state counts, and the
//! format marker that tells our files from foreign ones.
//!
//! | table | key | value | serves |
//! |---|---|---|---|
//! | `jobs` | id | the job, postcard-encoded | `get`, `list` without an indexed filter |
//! | `ready` | (−priority, run_at, id) | () | `claim`: runnable jobs in claim order |
//! | `waiting` | (run_at, id) | priority | `claim`: claimable jobs promoted to `ready` when due |
//! | `leases` | (lease until, id) | () | `rescue_expired` |
//! | `by_state` | (state, id) | () | `list` by state |
//! | `by_tenant` | (tenant, id) | state | `list` by tenant, and by tenant and state |
//! | `counts` | state | jobs in it | `count_by_state` |
//! | `meta` | "format" | [`FORMAT`] | telling a stanchion-store file from any other |
//!
//! Ids are UUID v7 as `u128`, whose order is the ids' order. Times are nanoseconds since the
//! Unix epoch as `i64` (1678 to 2262), saturating outside that range.

use std::collections::BTreeMap;
use std::time::SystemTime;

use redb::{ReadableTable, Table, TableDefinition, TableHandle, WriteTransaction};
use uuid::Uuid;

use crate::job::{Job, JobId, JobState};
use crate::store::StoreError;

/// What the `meta` table says in every file this version wrote.
pub(super) const FORMAT: &str = "stanchion-store/redb/1";

pub(super) const JOBS: TableDefinition<'_, u128, &[u8]> = TableDefinition::new("jobs");
const READY: TableDefinition<'_, (i32, i64, u128), ()> = TableDefinition::new("ready");
const WAITING: TableDefinition<'_, (i64, u128), i16> = TableDefinition::new("waiting");
const LEASES: TableDefinition<'_, (i64, u128), ()> = TableDefinition::new("leases");
pub(super) const BY_STATE: TableDefinition<'_, (u8, u128), ()> = TableDefinition::new("by_state");
pub(super) const BY_TENANT: TableDefinition<'_, (&str, u128), u8> =
    TableDefinition::new("by_tenant");
pub(super) const COUNTS: TableDefinition<'_, u8, u64> = TableDefinition::new("counts");
const META: TableDefinition<'_, &str, &str> = TableDefinition::new("meta");

pub(super) fn storage(context: &str, error: impl std::fmt::Display) -> StoreError {
    StoreError::Storage(format!("redb: {context}: {error}"))
}

/// `map_err(at("read a job"))`: a redb error of any kind as [`StoreError::Storage`].
pub(super) fn at<E: std::fmt::Display>(context: &'static str) -> impl Fn(E) -> StoreError {
    move |error| storage(context, error)
}

pub(super) fn key(id: JobId) -> u128 {
    id.0.as_u128()
}

pub(super) fn id(key: u128) -> JobId {
    JobId(Uuid::from_u128(key))
}

/// Nanoseconds since the epoch, saturating: only the order of these keys matters.
fn nanos(at: SystemTime) -> i64 {
    match at.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_nanos()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_nanos()).map_or(i64::MIN, |n| -n),
    }
}

pub(super) fn state_code(state: JobState) -> u8 {
    state as u8
}

pub(super) fn state_of(code: u8) -> Result<JobState, StoreError> {
    JobState::ALL
        .get(usize::from(code))
        .copied()
        .ok_or_else(|| StoreError::Codec(format!("unknown job state code {code}")))
}

/// Encodes `job` into `buffer`, replacing what it held.
fn encode(job: &Job, buffer: &mut Vec<u8>) -> Result<(), StoreError> {
    buffer.clear();
    *buffer = postcard::to_extend(job, std::mem::take(buffer))
        .map_err(|e| StoreError::Codec(format!("job {}: {e}", job.id)))?;
    Ok(())
}

pub(super) fn decode(key: u128, bytes: &[u8]) -> Result<Job, StoreError> {
    postcard::from_bytes(bytes).map_err(|e| StoreError::Codec(format!("job {}: {e}", id(key))))
}

/// The job `id` from any readable jobs table.
pub(super) fn load(
    jobs: &impl ReadableTable<u128, &'static [u8]>,
    id: JobId,
) -> Result<Option<Job>, StoreError> {
    match jobs.get(key(id)).map_err(|e| storage("read a job", e))? {
        Some(bytes) => decode(key(id), bytes.value()).map(Some),
        None => Ok(None),
    }
}

/// Checks that the file is ours, or empty, and creates the tables of an empty one.
pub(super) fn prepare(txn: &WriteTransaction) -> Result<(), StoreError> {
    let tables: Vec<String> = txn
        .list_tables()
        .map_err(|e| storage("list tables", e))?
        .map(|t| t.name().to_owned())
        .collect();
    let mut meta = txn
        .open_table(META)
        .map_err(|e| storage("open the meta table", e))?;
    let format = meta
        .get("format")
        .map_err(|e| storage("read the format", e))?
        .map(|f| f.value().to_owned());
    match format {
        Some(format) if format == FORMAT => {}
        Some(other) => {
            return Err(StoreError::Storage(format!(
                "the file holds format {other:?}; this version reads {FORMAT:?}"
            )));
        }
        None if !tables.is_empty() => {
            return Err(StoreError::Storage(format!(
                "not a stanchion-store file: it is a redb database with the tables {tables:?} \
                 and no format marker"
            )));
        }
        None => {
            meta.insert("format", FORMAT)
                .map_err(|e| storage("write the format", e))?;
        }
    }
    drop(meta);
    Tables::open(txn, SystemTime::UNIX_EPOCH).map(drop)
}

/// The open tables of one write transaction, and what it changed.
pub(super) struct Tables<'txn> {
    /// The time every operation of this transaction sees.
    pub(super) now: SystemTime,
    pub(super) jobs: Table<'txn, u128, &'static [u8]>,
    ready: Table<'txn, (i32, i64, u128), ()>,
    waiting: Table<'txn, (i64, u128), i16>,
    leases: Table<'txn, (i64, u128), ()>,
    by_state: Table<'txn, (u8, u128), ()>,
    by_tenant: Table<'txn, (&'static str, u128), u8>,
    counts: Table<'txn, u8, u64>,
    /// Per-state count changes, written once at the end of the transaction.
    count_deltas: [i64; JobState::ALL.len()],
    /// Every job changed (not new), in order, for the cache once the transaction commits. A new
    /// job enters the cache on its first read: no reader can hold an older version of it.
    pub(super) changed: Vec<Job>,
    /// Reused by every job this transaction encodes.
    buffer: Vec<u8>,
}

/// Where a job sits in the claim indexes.
#[derive(PartialEq)]
enum Claimable {
    No,
    Ready,
    Waiting,
}

impl<'txn> Tables<'txn> {
    pub(super) fn open(txn: &'txn WriteTransaction, now: SystemTime) -> Result<Self, StoreError> {
        Ok(Self {
            now,
            jobs: txn.open_table(JOBS).map_err(at("open the jobs table"))?,
            ready: txn.open_table(READY).map_err(at("open the ready table"))?,
            waiting: txn
                .open_table(WAITING)
                .map_err(at("open the waiting table"))?,
            leases: txn
                .open_table(LEASES)
                .map_err(at("open the leases table"))?,
            by_state: txn
                .open_table(BY_STATE)
                .map_err(at("open the by_state table"))?,
            by_tenant: txn
                .open_table(BY_TENANT)
                .map_err(at("open the by_tenant table"))?,
            counts: txn
                .open_table(COUNTS)
                .map_err(at("open the counts table"))?,
            count_deltas: [0; JobState::ALL.len()],
            changed: Vec::new(),
            buffer: Vec::new(),
        })
    }

    pub(super) fn get(&self, id: JobId) -> Result<Job, StoreError> {
        load(&self.jobs, id)?.ok_or(StoreError::NotFound(id))
    }

    /// Stores `job`, replacing `old` (its previous version, if any), and keeps every index in step.
    pub(super) fn put(&mut self, old: Option<&Job>, job: &Job) -> Result<(), StoreError> {
        let id = key(job.id);
        encode(job, &mut self.buffer)?;
        self.jobs
            .insert(id, self.buffer.as_slice())
            .map_err(at("write a job"))?;
        if let Some(old) = old {
            self.unindex_claim(old)?;
            if let Some(lease) = &old.lease {
                self.leases
                    .remove((nanos(lease.until), id))
                    .map_err(at("write a job"))?;
            }
            if old.state != job.state {
                self.by_state
                    .remove((state_code(old.state), id))
                    .map_err(at("write a job"))?;
                self.count_deltas[usize::from(state_code(old.state))] -= 1;
            }
        }
        self.index_claim(job)?;
        if let Some(lease) = &job.lease {
            self.leases
                .insert((nanos(lease.until), id), ())
                .map_err(at("write a job"))?;
        }
        if old.is_none_or(|old| old.state != job.state) {
            self.by_state
                .insert((state_code(job.state), id), ())
                .map_err(at("write a job"))?;
            self.count_deltas[usize::from(state_code(job.state))] += 1;
            if let Some(tenant) = &job.tenant {
                self.by_tenant
                    .insert((&**tenant, id), state_code(job.state))
                    .map_err(at("write a job"))?;
            }
        }
        if old.is_some() {
            self.changed.push(job.clone());
        }
        Ok(())
    }

    /// Changes job `id` with `change` (which must not write on error) and stores the result.
    pub(super) fn update(
        &mut self,
        id: JobId,
        change: impl FnOnce(&mut Job, SystemTime) -> Result<(), StoreError>,
    ) -> Result<Job, StoreError> {
        let old = self.get(id)?;
        let mut job = old.clone();
        change(&mut job, self.now)?;
        self.put(Some(&old), &job)?;
        Ok(job)
    }

    fn claimable(&self, job: &Job) -> Claimable {
        if !job.state.is_claimable() {
            Claimable::No
        } else if job.run_at <= self.now {
            Claimable::Ready
        } else {
            Claimable::Waiting
        }
    }

    fn index_claim(&mut self, job: &Job) -> Result<(), StoreError> {
        let (id, run_at) = (key(job.id), nanos(job.run_at));
        match self.claimable(job) {
            Claimable::No => {}
            Claimable::Ready => {
                self.ready
                    .insert((-i32::from(job.priority), run_at, id), ())
                    .map_err(at("index a job"))?;
            }
            Claimable::Waiting => {
                self.waiting
                    .insert((run_at, id), job.priority)
                    .map_err(at("index a job"))?;
            }
        }
        Ok(())
    }

    /// Removes `job` from the claim indexes; it may be in either, as promotion is lazy.
    fn unindex_claim(&mut self, job: &Job) -> Result<(), StoreError> {
        if !job.state.is_claimable() {
            return Ok(());
        }
        let (id, run_at) = (key(job.id), nanos(job.run_at));
        self.ready
            .remove((-i32::from(job.priority), run_at, id))
            .map_err(at("unindex a job"))?;
        self.waiting
            .remove((run_at, id))
            .map_err(at("unindex a job"))?;
        Ok(())
    }

    /// Moves every waiting job whose `run_at` has come to `ready`.
    fn promote(&mut self) -> Result<(), StoreError> {
        let now = nanos(self.now);
        let due: Vec<(i64, u128, i16)> = self
            .waiting
            .extract_from_if(..=(now, u128::MAX), |_, _| true)
            .map_err(at("promote due jobs"))?
            .map(|entry| {
                entry.map(|(k, v)| {
                    let (run_at, id) = k.value();
                    (run_at, id, v.value())
                })
            })
            .collect::<Result<_, _>>()
            .map_err(at("promote due jobs"))?;
        for (run_at, id, priority) in due {
            self.ready
                .insert((-i32::from(priority), run_at, id), ())
                .map_err(at("promote due jobs"))?;
        }
        Ok(())
    }

    /// Takes up to `max` runnable jobs in claim order, leaving them out of `ready`.
    pub(super) fn take_ready(&mut self, max: usize) -> Result<Vec<JobId>, StoreError> {
        self.promote()?;
        let mut ids = Vec::with_capacity(max.min(1024));
        while ids.len() < max {
            let Some((k, ())) = self
                .ready
                .pop_first()
                .map_err(at("take runnable jobs"))?
                .map(|(k, v)| (k.value(), v.value()))
            else {
                break;
            };
            ids.push(id(k.2));
        }
        Ok(ids)
    }

    /// The running jobs whose lease ended at or before `now`.
    pub(super) fn expired(&self, now: SystemTime) -> Result<Vec<JobId>, StoreError> {
        self.leases
            .range(..=(nanos(now), u128::MAX))
            .map_err(at("read expired leases"))?
            .map(|entry| {
                entry
                    .map(|(k, _)| id(k.value().1))
                    .map_err(at("read expired leases"))
            })
            .collect()
    }

    /// Writes the per-state counts changed in this transaction.
    pub(super) fn flush_counts(&mut self) -> Result<(), StoreError> {
        for (code, delta) in self.count_deltas.into_iter().enumerate() {
            if delta == 0 {
                continue;
            }
            let code = u8::try_from(code).expect("seven states");
            let current = self
                .counts
                .get(code)
                .map_err(at("write the counts"))?
                .map_or(0, |c| c.value());
            let updated = current.checked_add_signed(delta).ok_or_else(|| {
                StoreError::Codec(format!("the count of state {code} went below zero"))
            })?;
            self.counts
                .insert(code, updated)
                .map_err(at("write the counts"))?;
        }
        self.count_deltas = [0; JobState::ALL.len()];
        Ok(())
    }
}

/// Reads the per-state counts.
pub(super) fn counts(
    table: &impl ReadableTable<u8, u64>,
) -> Result<BTreeMap<JobState, u64>, StoreError> {
    let mut counts = BTreeMap::new();
    for entry in table.iter().map_err(at("read the counts"))? {
        let (code, count) = entry.map_err(at("read the counts"))?;
        if count.value() > 0 {
            counts.insert(state_of(code.value())?, count.value());
        }
    }
    Ok(counts)
}
