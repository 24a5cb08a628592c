//! Pipeline DAG validation by Kahn's sort, with every problem named at once.
//!
//! Declare named steps and what each depends on; [`DagBuilder::build`] either returns a [`Dag`]
//! (topological order, levels, dependency queries, a [`ReadySet`] for execution) or
//! [`ValidationErrors`] listing *every* problem in a fixed order: empty names, duplicate names,
//! dependencies on undeclared steps (naming the step that refers to them), self loops, and each
//! cycle as a path `a -> b -> c -> a`.
//!
//! ```
//! use stanchion_dag::Dag;
//!
//! let mut pipeline = Dag::builder();
//! pipeline
//!     .add_node("checkout", [])
//!     .add_node("build", ["checkout"])
//!     .add_node("test", ["build"])
//!     .add_node("package", ["build", "docs"])
//!     .add_node("deploy", ["package", "test"])
//!     .add_node("build", ["deploy"]);
//! let errors = pipeline.build().unwrap_err();
//! assert_eq!(
//!     errors.to_string(),
//!     "node build is declared 2 times\n\
//!      node package depends on docs, which is not declared"
//! );
//! ```
//!
//! The order is the one Kahn's algorithm gives when run level by level: nodes come level by level,
//! in declaration order within a level. It is computed by one iterative pass over compact integer
//! arrays (never recursive: a million-step chain is fine), and [`ReadySet`] runs Kahn's algorithm
//! one completion at a time for execution. Dependencies read "depends on": `a -> b` means `a` runs
//! after `b`. The crate does no I/O.
//!
//! # Features
//!
//! | feature | enables |
//! |---|---|
//! | `petgraph` | [`Dag::from_petgraph`] and [`Dag::to_petgraph`] |
#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod builder;
mod dag;
mod error;
mod graph;
mod name;
#[cfg(feature = "petgraph")]
mod petgraph;
mod ready;

pub use builder::DagBuilder;
pub use dag::{Dag, NodeIndex};
pub use error::{ReadyError, ValidationError, ValidationErrors};
pub use name::{Arena, Name, StrArena};
pub use ready::ReadySet;

/// The most nodes (and distinct names) a DAG holds: indices are `u32`, with two values reserved.
pub const MAX_NODES: usize = u32::MAX as usize - 2;

// The examples in the README and the guide run as doctests, so they cannot drift from the code.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
#[doc = include_str!("../../../docs/dag.md")]
struct DocumentationExamples;
