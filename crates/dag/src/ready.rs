use std::collections::BTreeSet;
use std::sync::Arc;

use crate::{Dag, Name, NodeIndex, ReadyError};

const COMPLETED: u32 = u32::MAX;

/// One execution of a [`Dag`]: which nodes may run now, and which become runnable as each completes.
///
/// A scheduler starts every node in [`ready`](Self::ready), and on each completion starts the nodes
/// that [`complete`](Self::complete) returns, so every node starts as soon as its own dependencies
/// have finished rather than when its whole level has.
///
/// # Examples
///
/// ```
/// use stanchion_dag::Dag;
///
/// let mut builder = Dag::builder();
/// builder.add_node("a", []).add_node("b", []).add_node("c", ["a"]).add_node("d", ["b", "c"]);
/// let dag = builder.build()?;
/// let name = |nodes: &[_]| nodes.iter().map(|&n| dag.name(n).to_string()).collect::<Vec<_>>();
///
/// let mut run = dag.ready_set();
/// assert_eq!(name(&run.ready().collect::<Vec<_>>()), ["a", "b"]);
/// assert_eq!(name(run.complete(dag.index_of("a").unwrap())?), ["c"]);
/// assert!(run.complete(dag.index_of("b").unwrap())?.is_empty());
/// assert_eq!(name(run.complete(dag.index_of("c").unwrap())?), ["d"]);
/// run.complete(dag.index_of("d").unwrap())?;
/// assert!(run.is_finished());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct ReadySet<'a, N: Name = Arc<str>> {
    dag: &'a Dag<N>,
    /// Per node: dependencies not yet completed, or `COMPLETED`.
    pending: Vec<u32>,
    ready: BTreeSet<NodeIndex>,
    completed: usize,
    released: Vec<NodeIndex>,
}

impl<'a, N: Name> ReadySet<'a, N> {
    pub(crate) fn new(dag: &'a Dag<N>) -> Self {
        let pending: Vec<u32> = (0..dag.len())
            .map(|i| dag.dependencies(NodeIndex::new(i)).len() as u32)
            .collect();
        let ready = pending
            .iter()
            .enumerate()
            .filter(|&(_, &p)| p == 0)
            .map(|(i, _)| NodeIndex::new(i))
            .collect();
        Self {
            dag,
            pending,
            ready,
            completed: 0,
            released: Vec::new(),
        }
    }

    /// The nodes whose dependencies have all completed and that have not completed themselves,
    /// in declaration order.
    pub fn ready(&self) -> impl ExactSizeIterator<Item = NodeIndex> + '_ {
        self.ready.iter().copied()
    }

    /// Marks `node` completed and returns the nodes that became ready because of it, in
    /// declaration order.
    ///
    /// # Errors
    ///
    /// [`ReadyError`] if `node` is not of this DAG, still waits for a dependency, or was completed
    /// before; the set is left as it was.
    pub fn complete(&mut self, node: NodeIndex) -> Result<&[NodeIndex], ReadyError> {
        match self.pending.get(node.index()) {
            None => return Err(ReadyError::UnknownNode { node }),
            Some(&COMPLETED) => return Err(ReadyError::AlreadyCompleted { node }),
            Some(&0) => {}
            Some(&waiting_on) => {
                return Err(ReadyError::NotReady {
                    node,
                    waiting_on: waiting_on as usize,
                });
            }
        }
        self.pending[node.index()] = COMPLETED;
        self.ready.remove(&node);
        self.completed += 1;
        self.released.clear();
        for &dependent in self.dag.dependents(node) {
            let pending = &mut self.pending[dependent.index()];
            *pending -= 1;
            if *pending == 0 {
                self.released.push(dependent);
                self.ready.insert(dependent);
            }
        }
        Ok(&self.released)
    }

    /// Whether `node` has completed.
    pub fn is_completed(&self, node: NodeIndex) -> bool {
        self.pending.get(node.index()) == Some(&COMPLETED)
    }

    /// How many nodes have completed.
    pub fn completed(&self) -> usize {
        self.completed
    }

    /// Whether every node has completed.
    pub fn is_finished(&self) -> bool {
        self.completed == self.pending.len()
    }
}
