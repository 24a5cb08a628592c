use std::fmt;
use std::sync::{Arc, OnceLock};

use crate::builder::{Problems, Sorted};
use crate::graph::Csr;
use crate::name::{Arena, Lookup};
use crate::{DagBuilder, Name, ReadySet, ValidationError, ValidationErrors};

/// A node's position in its DAG: the order it was declared in, counting from 0.
///
/// Cheap to copy and to store; use it to index your own per-node data, and [`Dag::name`] to get
/// the name back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeIndex(u32);

impl NodeIndex {
    /// The index of the node declared at `position`.
    ///
    /// # Panics
    ///
    /// If `position` does not fit in a `u32` (a DAG holds at most `u32::MAX` nodes).
    #[inline]
    pub fn new(position: usize) -> Self {
        Self(u32::try_from(position).expect("a dag holds at most u32::MAX nodes"))
    }

    #[inline]
    pub(crate) fn from_u32(position: u32) -> Self {
        Self(position)
    }

    #[inline]
    pub(crate) fn as_u32(self) -> u32 {
        self.0
    }

    /// The position as a `usize`, for indexing.
    #[inline]
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for NodeIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// A validated directed acyclic graph of named nodes, with its topological order and levels.
///
/// Built by [`DagBuilder`] (named nodes) or [`Dag::from_indexed`] (nodes numbered `0..n`). Edges
/// read "depends on": a node comes after each of its dependencies. The order is computed once,
/// when the DAG is built, over compact integer arrays, and is the one Kahn's algorithm gives when
/// run level by level: nodes ordered by level, and by declaration within a level.
///
/// # Examples
///
/// ```
/// use stanchion_dag::Dag;
///
/// let mut builder = Dag::builder();
/// builder
///     .add_node("fetch", [])
///     .add_node("lint", ["fetch"])
///     .add_node("test", ["fetch"])
///     .add_node("release", ["lint", "test"]);
/// let dag = builder.build()?;
///
/// let levels: Vec<Vec<&str>> =
///     dag.levels().map(|level| level.iter().map(|&n| dag.name(n)).collect()).collect();
/// assert_eq!(levels, [vec!["fetch"], vec!["lint", "test"], vec!["release"]]);
///
/// let release = dag.index_of("release").unwrap();
/// assert_eq!(dag.ancestors(release).len(), 3);
/// # Ok::<(), stanchion_dag::ValidationErrors<std::sync::Arc<str>>>(())
/// ```
#[derive(Clone)]
pub struct Dag<N: Name = Arc<str>> {
    /// The names by position.
    names: N::Arena,
    len: usize,
    /// Name to position; `None` when names are positions (`from_indexed`).
    lookup: Option<Lookup>,
    dependencies: Csr,
    /// The reversed edges, built on first use: validation and ordering do not need them.
    dependents: OnceLock<Csr>,
    order: Vec<NodeIndex>,
    level_offsets: Vec<usize>,
}

impl<N: Name> fmt::Debug for Dag<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dag")
            .field("nodes", &self.len)
            .field("edges", &self.dependencies.edge_count())
            .field("levels", &self.level_count())
            .finish_non_exhaustive()
    }
}

impl Dag {
    /// A builder for a DAG of string-named nodes.
    pub fn builder() -> DagBuilder {
        DagBuilder::new()
    }
}

impl Dag<u32> {
    /// A DAG whose nodes are numbered `0..dependencies.len()`; `dependencies[i]` lists the nodes
    /// node `i` depends on. No hashing: the fast path for generated graphs.
    ///
    /// Rows are kept as given: a number listed twice stays twice in [`dependencies`](Self::dependencies)
    /// and [`edge_count`](Self::edge_count), which changes neither the order nor the levels, and a
    /// [`ReadySet`] still releases the node once. ([`DagBuilder`] lists each dependency once.)
    ///
    /// # Errors
    ///
    /// [`ValidationErrors`] naming numbers out of range (as missing dependencies, once per row),
    /// self loops and cycles, as [`DagBuilder::build`] does.
    ///
    /// # Panics
    ///
    /// If there are more than [`MAX_NODES`](crate::MAX_NODES) rows.
    ///
    /// # Examples
    ///
    /// ```
    /// use stanchion_dag::Dag;
    ///
    /// let dag = Dag::from_indexed(&[vec![1, 2], vec![2], vec![]])?;
    /// assert_eq!(dag.topo_order().iter().map(|n| n.index()).collect::<Vec<_>>(), [2, 1, 0]);
    ///
    /// let cyclic = Dag::from_indexed(&[vec![1], vec![0]]).unwrap_err();
    /// assert_eq!(cyclic.to_string(), "dependency cycle: 0 -> 1 -> 0");
    /// # Ok::<(), stanchion_dag::ValidationErrors<u32>>(())
    /// ```
    pub fn from_indexed<D: AsRef<[u32]>>(
        dependencies: &[D],
    ) -> Result<Self, ValidationErrors<u32>> {
        let n = dependencies.len();
        assert!(
            n <= crate::MAX_NODES,
            "a dag holds at most {} nodes",
            crate::MAX_NODES
        );
        let names: Vec<u32> = (0..n).map(|i| NodeIndex::new(i).as_u32()).collect();
        let edges = dependencies.iter().map(|row| row.as_ref().len()).sum();
        let mut problems = Problems::default();
        let mut resolved = Csr::with_capacity(n, edges);
        for (node, row) in names.iter().zip(dependencies) {
            for &dependency in row.as_ref() {
                if dependency as usize >= n {
                    let error = ValidationError::MissingDependency {
                        node: *node,
                        missing: dependency,
                    };
                    // Rows are short: scanning this row's reports keeps each (node, missing) once.
                    let mut this_row = problems.missing.iter().rev().take_while(
                        |reported| matches!(reported, ValidationError::MissingDependency { node: n, .. } if n == node),
                    );
                    if !this_row.any(|reported| *reported == error) {
                        problems.missing.push(error);
                    }
                } else if dependency == *node {
                    if !problems
                        .self_loops
                        .last()
                        .is_some_and(|e| e == &ValidationError::SelfLoop { node: *node })
                    {
                        problems
                            .self_loops
                            .push(ValidationError::SelfLoop { node: *node });
                    }
                } else {
                    resolved.push_target(NodeIndex::from_u32(dependency));
                }
            }
            resolved.end_row();
        }
        let sorted = problems.finish(resolved, |node| node.as_u32())?;
        Ok(Self::from_parts(names, n, None, sorted))
    }
}

impl<N: Name> Dag<N> {
    pub(crate) fn from_parts(
        names: N::Arena,
        len: usize,
        lookup: Option<Lookup>,
        sorted: Sorted,
    ) -> Self {
        let Sorted {
            dependencies,
            levels,
        } = sorted;
        Self {
            names,
            len,
            lookup,
            dependencies,
            dependents: OnceLock::new(),
            order: levels.order,
            level_offsets: levels.level_offsets,
        }
    }

    /// How many nodes the DAG has.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the DAG has no nodes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many dependency edges the DAG has.
    pub fn edge_count(&self) -> usize {
        self.dependencies.edge_count()
    }

    /// The name of `node`.
    ///
    /// # Panics
    ///
    /// If `node` is not an index of this DAG.
    pub fn name(&self, node: NodeIndex) -> &N::Key {
        self.check(node);
        self.names.get(node.index())
    }

    fn check(&self, node: NodeIndex) {
        assert!(
            node.index() < self.len,
            "{node} is not a node of this dag of {} nodes",
            self.len
        );
    }

    /// Every name, in declaration order.
    pub fn names(&self) -> impl ExactSizeIterator<Item = &N::Key> + '_ {
        (0..self.len).map(|position| self.names.get(position))
    }

    /// The node named `key`, if there is one.
    pub fn index_of(&self, key: &N::Key) -> Option<NodeIndex> {
        match &self.lookup {
            Some(lookup) => lookup.find::<N>(&self.names, key).map(NodeIndex::from_u32),
            None => N::as_position(key)
                .filter(|&position| position < self.len())
                .map(NodeIndex::new),
        }
    }

    /// Every node, each after all of its dependencies: level by level, in declaration order
    /// within a level.
    pub fn topo_order(&self) -> &[NodeIndex] {
        &self.order
    }

    /// The levels: nodes without dependencies first, then each node one level past its deepest
    /// dependency. The nodes of one level do not depend on each other and could run in parallel.
    pub fn levels(&self) -> impl ExactSizeIterator<Item = &[NodeIndex]> + '_ {
        self.level_offsets
            .windows(2)
            .map(|bounds| &self.order[bounds[0]..bounds[1]])
    }

    /// How many levels there are: the number of nodes on the longest dependency chain.
    pub fn level_count(&self) -> usize {
        self.level_offsets.len().saturating_sub(1)
    }

    /// What `node` depends on, in the order it listed them (once each when built by [`DagBuilder`]).
    ///
    /// # Panics
    ///
    /// If `node` is not an index of this DAG.
    pub fn dependencies(&self, node: NodeIndex) -> &[NodeIndex] {
        self.check(node);
        self.dependencies.row(node)
    }

    /// The nodes that depend on `node`, in declaration order.
    ///
    /// The first call on a DAG (or of [`descendants`](Self::descendants) or
    /// [`ready_set`](Self::ready_set)) builds the reversed adjacency, in time linear in the edges.
    ///
    /// # Panics
    ///
    /// If `node` is not an index of this DAG.
    pub fn dependents(&self, node: NodeIndex) -> &[NodeIndex] {
        self.check(node);
        self.reversed().row(node)
    }

    fn reversed(&self) -> &Csr {
        self.dependents
            .get_or_init(|| self.dependencies.transpose())
    }

    /// Every node `node` depends on, directly or through others, in declaration order.
    ///
    /// # Panics
    ///
    /// If `node` is not an index of this DAG.
    pub fn ancestors(&self, node: NodeIndex) -> Vec<NodeIndex> {
        self.check(node);
        reachable(&self.dependencies, node)
    }

    /// Every node that depends on `node`, directly or through others, in declaration order.
    ///
    /// # Panics
    ///
    /// If `node` is not an index of this DAG.
    pub fn descendants(&self, node: NodeIndex) -> Vec<NodeIndex> {
        self.check(node);
        reachable(self.reversed(), node)
    }

    /// A fresh execution of this DAG: which nodes may start, and what each completion releases.
    pub fn ready_set(&self) -> ReadySet<'_, N> {
        ReadySet::new(self)
    }
}

/// The nodes reachable from `start` (excluded) along `edges`, in increasing index order.
fn reachable(edges: &Csr, start: NodeIndex) -> Vec<NodeIndex> {
    let mut seen = vec![false; edges.node_count()];
    let mut stack = vec![start];
    let mut found = Vec::new();
    while let Some(node) = stack.pop() {
        for &next in edges.row(node) {
            if !std::mem::replace(&mut seen[next.index()], true) {
                found.push(next);
                stack.push(next);
            }
        }
    }
    found.sort_unstable();
    found
}
