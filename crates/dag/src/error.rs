use std::fmt;

use crate::NodeIndex;

/// One problem found while validating a DAG.
///
/// Dependencies read `a -> b` as "a depends on b", in messages and in cycle paths alike.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ValidationError<N> {
    /// A node was declared with an empty name; `position` counts declarations from 0.
    EmptyName {
        /// The declaration's position.
        position: usize,
    },
    /// A name was declared more than once. The first declaration is the one dependencies refer to.
    DuplicateNode {
        /// The name declared twice or more.
        name: N,
        /// How many times it was declared.
        count: usize,
    },
    /// `node` depends on a name no node was declared with.
    MissingDependency {
        /// The node whose dependency list names `missing`.
        node: N,
        /// The name that was never declared.
        missing: N,
    },
    /// `node` lists itself among its dependencies.
    SelfLoop {
        /// The node that depends on itself.
        node: N,
    },
    /// Nodes that depend on each other in a circle.
    ///
    /// One per strongly connected component: `path` is a shortest cycle through the component's
    /// first-declared node, starting and ending with it (`a -> b -> c -> a`); `others` lists the
    /// component's nodes the path does not pass through, in declaration order, so none caught in a
    /// tangle of cycles goes unnamed. The component is the path's nodes and the others.
    Cycle {
        /// The cycle, first node repeated at the end.
        path: Vec<N>,
        /// The rest of the strongly connected component, in declaration order (often empty).
        others: Vec<N>,
    },
}

fn write_list<N: fmt::Display>(
    f: &mut fmt::Formatter<'_>,
    items: &[N],
    separator: &str,
) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(separator)?;
        }
        write!(f, "{item}")?;
    }
    Ok(())
}

impl<N: fmt::Display> fmt::Display for ValidationError<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EmptyName { position } => {
                write!(f, "node at position {position} has an empty name")
            }
            Self::DuplicateNode { name, count } => {
                write!(f, "node {name} is declared {count} times")
            }
            Self::MissingDependency { node, missing } => {
                write!(f, "node {node} depends on {missing}, which is not declared")
            }
            Self::SelfLoop { node } => write!(f, "node {node} depends on itself"),
            Self::Cycle { path, others } => {
                f.write_str("dependency cycle: ")?;
                write_list(f, path, " -> ")?;
                if !others.is_empty() {
                    f.write_str(" (its component also holds ")?;
                    write_list(f, others, ", ")?;
                    f.write_str(")")?;
                }
                Ok(())
            }
        }
    }
}

impl<N: fmt::Debug + fmt::Display> std::error::Error for ValidationError<N> {}

/// Every problem that kept a DAG from being built, in a fixed order: empty names, duplicate
/// names, missing dependencies, self loops, cycles; within each kind, in declaration order.
///
/// `Display` prints one problem per line.
///
/// # Examples
///
/// ```
/// use stanchion_dag::Dag;
///
/// let mut builder = Dag::builder();
/// builder
///     .add_node("build", ["lint"])
///     .add_node("lint", ["test"])
///     .add_node("test", ["build", "fixtures"]);
/// let errors = builder.build().unwrap_err();
/// assert_eq!(
///     errors.to_string(),
///     "node test depends on fixtures, which is not declared\n\
///      dependency cycle: build -> lint -> test -> build"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationErrors<N> {
    errors: Vec<ValidationError<N>>,
}

impl<N> ValidationErrors<N> {
    pub(crate) fn new(errors: Vec<ValidationError<N>>) -> Self {
        debug_assert!(!errors.is_empty());
        Self { errors }
    }

    /// The problems, in the documented order.
    pub fn iter(&self) -> std::slice::Iter<'_, ValidationError<N>> {
        self.errors.iter()
    }

    /// How many problems there are (at least one).
    pub fn len(&self) -> usize {
        self.errors.len()
    }

    /// Always false: a `ValidationErrors` holds at least one problem.
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// The problems as a vector.
    pub fn into_vec(self) -> Vec<ValidationError<N>> {
        self.errors
    }
}

impl<N: fmt::Display> fmt::Display for ValidationErrors<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl<N: fmt::Debug + fmt::Display> std::error::Error for ValidationErrors<N> {}

impl<'a, N> IntoIterator for &'a ValidationErrors<N> {
    type Item = &'a ValidationError<N>;
    type IntoIter = std::slice::Iter<'a, ValidationError<N>>;

    fn into_iter(self) -> Self::IntoIter {
        self.errors.iter()
    }
}

impl<N> IntoIterator for ValidationErrors<N> {
    type Item = ValidationError<N>;
    type IntoIter = std::vec::IntoIter<ValidationError<N>>;

    fn into_iter(self) -> Self::IntoIter {
        self.errors.into_iter()
    }
}

/// A [`ReadySet::complete`](crate::ReadySet::complete) call that does not fit the run's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReadyError {
    /// The node still waits for some of its dependencies.
    #[error(
        "node {node} cannot complete: it still waits for {waiting_on} of its listed dependencies"
    )]
    NotReady {
        /// The node that was completed too early.
        node: NodeIndex,
        /// How many entries of its dependency list have not completed (a dependency listed
        /// twice to [`Dag::from_indexed`](crate::Dag::from_indexed) counts twice).
        waiting_on: usize,
    },
    /// The node was completed before.
    #[error("node {node} was already completed")]
    AlreadyCompleted {
        /// The node completed twice.
        node: NodeIndex,
    },
    /// The index is not a node of this DAG.
    #[error("node {node} is not in this dag")]
    UnknownNode {
        /// The index out of range.
        node: NodeIndex,
    },
}
