//! The single writer: one thread owns every write transaction and commits the operations that
//! queued up while the previous commit was syncing as one group, so they share one fsync.
//!
//! An operation validates before it writes: a `NotFound` or `Conflict` leaves the transaction as it
//! was, and the other operations of the group commit. A `Storage` or `Codec` error may come after a
//! partial write, so it rolls the whole group back and every operation of the group reports it.
//! Callers learn their result only after the commit is durable, and the cache is updated only then.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::{mpsc, oneshot};

use super::Core;
use super::tables::{Tables, storage};
use crate::store::StoreError;

/// Operations committed together at most; more wait for the next commit.
const MAX_GROUP: usize = 1024;
/// Operations queued at most before callers wait for room.
pub(super) const QUEUE: usize = 4 * MAX_GROUP;

/// Runs against the group's transaction; returns what to tell the caller once the commit is known,
/// and whether its error forces a rollback.
pub(super) type Op = Box<dyn FnOnce(&mut Tables<'_>) -> (Finish, bool) + Send>;
/// Tells the caller the outcome: the operation's own result if the group committed.
pub(super) type Finish = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

pub(super) enum Command {
    Write(Op),
    Compact(oneshot::Sender<Result<bool, StoreError>>),
}

/// Wraps `f` as an operation that answers on the returned receiver.
pub(super) fn op<T: Send + 'static>(
    f: impl FnOnce(&mut Tables<'_>) -> Result<T, StoreError> + Send + 'static,
) -> (Command, oneshot::Receiver<Result<T, StoreError>>) {
    let (reply, answer) = oneshot::channel();
    let op: Op = Box::new(move |tables| {
        let result = f(tables);
        let rolls_back = matches!(result, Err(StoreError::Storage(_) | StoreError::Codec(_)));
        let finish: Finish = Box::new(move |commit| {
            // Its own error first: an operation that failed wrote nothing. The caller may have
            // gone away; the write stands either way.
            let _ = reply.send(result.and_then(|value| commit.map(|()| value)));
        });
        (finish, rolls_back)
    });
    (Command::Write(op), answer)
}

/// The writer thread's loop: until every handle is gone, take what is queued and commit it.
pub(super) fn run(core: Arc<Core>, mut queue: mpsc::Receiver<Command>) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    while let Some(first) = queue.blocking_recv() {
        let mut next = Some(first);
        while let Some(command) = next.take() {
            match command {
                Command::Write(op) => group.push(op),
                Command::Compact(reply) => {
                    commit(&core, &mut group);
                    let _ = reply.send(core.compact());
                }
            }
            if group.len() < MAX_GROUP {
                next = queue.try_recv().ok();
            }
        }
        commit(&core, &mut group);
    }
}

/// Applies and commits `group` in one transaction, then answers every operation in it.
fn commit(core: &Core, group: &mut Vec<Op>) {
    if group.is_empty() {
        return;
    }
    let mut finishes = Vec::with_capacity(group.len());
    let outcome = apply(core, group.drain(..), &mut finishes);
    let commit = match outcome {
        Ok(changed) => {
            core.cache.committed(changed);
            core.commits.fetch_add(1, Ordering::Relaxed);
            core.writes
                .fetch_add(finishes.len() as u64, Ordering::Relaxed);
            Ok(())
        }
        Err(error) => Err(error),
    };
    for finish in finishes {
        finish(commit.clone());
    }
}

fn apply(
    core: &Core,
    ops: impl Iterator<Item = Op>,
    finishes: &mut Vec<Finish>,
) -> Result<Vec<crate::job::Job>, StoreError> {
    let db = core.db();
    let txn = db.begin_write().map_err(|e| storage("begin a write", e))?;
    let mut tables = Tables::open(&txn, core.clock.wall())?;
    let mut failure = None;
    for op in ops {
        let (finish, rolls_back) = op(&mut tables);
        finishes.push(finish);
        if rolls_back && failure.is_none() {
            failure = Some(StoreError::Storage(
                "an operation of this group commit failed; the group was rolled back".into(),
            ));
        }
    }
    if let Some(failure) = failure {
        return Err(failure);
    }
    tables.flush_counts()?;
    let changed = std::mem::take(&mut tables.changed);
    drop(tables);
    txn.commit().map_err(|e| storage("commit", e))?;
    Ok(changed)
}
