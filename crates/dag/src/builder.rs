use std::sync::Arc;

use crate::graph::{self, Csr};
use crate::name::{Arena, Lookup};
use crate::{Dag, Name, NodeIndex, ValidationError, ValidationErrors};

const UNDECLARED: u32 = u32::MAX;

/// Collects named nodes and their dependencies, then validates them all at once in [`build`](Self::build).
///
/// Names are interned as they are first mentioned, so a dependency may name a node declared later,
/// and each distinct name is copied once into one arena however often it is mentioned.
///
/// # Examples
///
/// ```
/// use stanchion_dag::Dag;
///
/// let mut builder = Dag::builder();
/// builder
///     .add_node("deploy", ["test", "build"])
///     .add_node("build", [])
///     .add_node("test", ["build"]);
/// let dag = builder.build()?;
/// let order: Vec<&str> = dag.topo_order().iter().map(|&n| dag.name(n)).collect();
/// assert_eq!(order, ["build", "test", "deploy"]);
/// # Ok::<(), stanchion_dag::ValidationErrors<std::sync::Arc<str>>>(())
/// ```
#[derive(Debug, Clone)]
pub struct DagBuilder<N: Name = Arc<str>> {
    /// Every name mentioned so far, declared or not, numbered in order of first mention.
    symbols: N::Arena,
    symbol_count: u32,
    lookup: Lookup,
    /// Per symbol: the position of its first declaration, and how often it was declared.
    declared_at: Vec<u32>,
    declarations_of: Vec<u32>,
    /// Per declaration position: the symbol declared there, and (as a row of symbols) what it depends on.
    declarations: Vec<u32>,
    mentions: Csr,
}

impl<N: Name> Default for DagBuilder<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<N: Name> DagBuilder<N> {
    /// An empty builder.
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    /// An empty builder with room for `nodes` nodes, each with a few dependencies.
    pub fn with_capacity(nodes: usize) -> Self {
        Self {
            symbols: N::Arena::with_capacity(nodes),
            symbol_count: 0,
            lookup: Lookup::with_capacity(nodes),
            declared_at: Vec::with_capacity(nodes),
            declarations_of: Vec::with_capacity(nodes),
            declarations: Vec::with_capacity(nodes),
            mentions: Csr::with_capacity(nodes, nodes.saturating_mul(4)),
        }
    }

    /// Declares `name`, which depends on (runs after) every node in `dependencies`.
    ///
    /// Nothing is checked here; [`build`](Self::build) reports every problem at once. A dependency
    /// listed twice counts once.
    ///
    /// # Panics
    ///
    /// If the builder would hold more than [`MAX_NODES`](crate::MAX_NODES) nodes or distinct names.
    pub fn add_node<'k>(
        &mut self,
        name: &'k N::Key,
        dependencies: impl IntoIterator<Item = &'k N::Key>,
    ) -> &mut Self
    where
        N::Key: 'k,
    {
        assert!(
            self.declarations.len() < crate::MAX_NODES,
            "a dag holds at most {} nodes",
            crate::MAX_NODES
        );
        let symbol = self.intern(name);
        let position = self.declarations.len() as u32;
        if self.declared_at[symbol as usize] == UNDECLARED {
            self.declared_at[symbol as usize] = position;
        }
        self.declarations_of[symbol as usize] += 1;
        self.declarations.push(symbol);
        for dependency in dependencies {
            let dependency = self.intern(dependency);
            self.mentions.push_target(NodeIndex::from_u32(dependency));
        }
        self.mentions.end_row();
        self
    }

    /// How many nodes have been declared (duplicates included).
    pub fn len(&self) -> usize {
        self.declarations.len()
    }

    /// Whether no node has been declared.
    pub fn is_empty(&self) -> bool {
        self.declarations.is_empty()
    }

    #[inline]
    fn intern(&mut self, key: &N::Key) -> u32 {
        let before = self.symbol_count;
        assert!(
            (before as usize) < crate::MAX_NODES,
            "a dag names at most {} nodes",
            crate::MAX_NODES
        );
        let symbol = self
            .lookup
            .intern::<N>(&mut self.symbols, &mut self.symbol_count, key);
        if self.symbol_count != before {
            self.declared_at.push(UNDECLARED);
            self.declarations_of.push(0);
        }
        symbol
    }

    /// Validates the graph and sorts it.
    ///
    /// # Errors
    ///
    /// [`ValidationErrors`] listing every problem: empty names, names declared more than once,
    /// dependencies on undeclared names (naming the node that refers to them), nodes that depend on
    /// themselves, and each cycle as a path.
    pub fn build(self) -> Result<Dag<N>, ValidationErrors<N>> {
        let n = self.declarations.len();
        let name = |symbol: u32| N::from_key(self.symbols.get(symbol as usize));
        let mut problems = Problems::default();
        for (position, &symbol) in self.declarations.iter().enumerate() {
            let declarations = self.declarations_of[symbol as usize];
            if N::is_empty_name(self.symbols.get(symbol as usize)) {
                problems
                    .empty_names
                    .push(ValidationError::EmptyName { position });
            } else if declarations > 1 && self.declared_at[symbol as usize] == position as u32 {
                problems.duplicates.push(ValidationError::DuplicateNode {
                    name: name(symbol),
                    count: declarations as usize,
                });
            }
        }

        // Resolve each mention to the position of the node it names, dropping what cannot be an edge.
        let mut dependencies = Csr::with_capacity(n, self.mentions.edge_count());
        let mut seen = vec![UNDECLARED; self.symbol_count as usize];
        for (position, &symbol) in self.declarations.iter().enumerate() {
            for &mentioned in self.mentions.row(NodeIndex::new(position)) {
                let mentioned = mentioned.as_u32();
                if std::mem::replace(&mut seen[mentioned as usize], position as u32)
                    == position as u32
                {
                    continue;
                }
                match self.declared_at[mentioned as usize] {
                    UNDECLARED => problems.missing.push(ValidationError::MissingDependency {
                        node: name(symbol),
                        missing: name(mentioned),
                    }),
                    _ if mentioned == symbol => problems
                        .self_loops
                        .push(ValidationError::SelfLoop { node: name(symbol) }),
                    target => dependencies.push_target(NodeIndex::from_u32(target)),
                }
            }
            dependencies.end_row();
        }

        let sorted = problems.finish(dependencies, |node| name(self.declarations[node.index()]))?;

        // Valid: every symbol is declared exactly once, so renumber names by declaration position.
        let mut names = N::Arena::with_capacity(n);
        for &symbol in &self.declarations {
            names.push(self.symbols.get(symbol as usize));
        }
        let mut lookup = self.lookup;
        lookup.renumber(|symbol| self.declared_at[symbol as usize]);
        Ok(Dag::from_parts(names, n, Some(lookup), sorted))
    }
}

/// Problems found before sorting, kept apart by kind so they are reported in the documented order.
#[derive(Debug)]
pub(crate) struct Problems<N> {
    pub(crate) empty_names: Vec<ValidationError<N>>,
    pub(crate) duplicates: Vec<ValidationError<N>>,
    pub(crate) missing: Vec<ValidationError<N>>,
    pub(crate) self_loops: Vec<ValidationError<N>>,
}

impl<N> Default for Problems<N> {
    fn default() -> Self {
        Self {
            empty_names: Vec::new(),
            duplicates: Vec::new(),
            missing: Vec::new(),
            self_loops: Vec::new(),
        }
    }
}

/// A validated graph: its dependencies and the levelled order.
#[derive(Debug)]
pub(crate) struct Sorted {
    pub(crate) dependencies: Csr,
    pub(crate) levels: graph::Levels,
}

impl<N> Problems<N> {
    /// Sorts the resolved graph; returns it if neither the sort nor earlier checks found a problem.
    /// `name` gives the owned name of a node, for cycle reports.
    pub(crate) fn finish(
        self,
        dependencies: Csr,
        name: impl Fn(NodeIndex) -> N,
    ) -> Result<Sorted, ValidationErrors<N>> {
        let levels = graph::levels(&dependencies);
        let cycles = if levels.is_some() {
            Vec::new()
        } else {
            graph::cycles(&dependencies)
        };
        let mut errors = self.empty_names;
        errors.extend(self.duplicates);
        errors.extend(self.missing);
        errors.extend(self.self_loops);
        errors.extend(cycles.into_iter().map(|cycle| ValidationError::Cycle {
            path: cycle.path.iter().map(|&node| name(node)).collect(),
            others: cycle.others.iter().map(|&node| name(node)).collect(),
        }));
        match levels {
            Some(levels) if errors.is_empty() => Ok(Sorted {
                dependencies,
                levels,
            }),
            _ => Err(ValidationErrors::new(errors)),
        }
    }
}
