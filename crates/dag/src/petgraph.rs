//! Conversion to and from `petgraph::Graph` (feature `petgraph`).

use petgraph::Direction::Incoming;
use petgraph::graph::{EdgeIndex, IndexType};
use petgraph::visit::EdgeRef;
use petgraph::{Directed, Graph};

use crate::{Dag, DagBuilder, Name, NodeIndex, ValidationErrors};

impl<N: Name> Dag<N> {
    /// Validates a petgraph graph whose node weights are the names.
    ///
    /// An edge `a → b` means `b` depends on `a` (petgraph's `toposort` puts `a` first); nodes keep
    /// petgraph's index order as declaration order, and parallel edges count once.
    ///
    /// # Errors
    ///
    /// As [`DagBuilder::build`]: duplicate or empty names, self loops, cycles.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use petgraph::Graph;
    /// use stanchion_dag::Dag;
    ///
    /// let mut graph = Graph::<Arc<str>, ()>::new();
    /// let (a, b) = (graph.add_node("a".into()), graph.add_node("b".into()));
    /// graph.add_edge(b, a, ());
    /// let dag = Dag::from_petgraph(&graph)?;
    /// assert_eq!(dag.name(dag.topo_order()[0]), "b");
    ///
    /// graph.add_edge(a, b, ());
    /// assert_eq!(Dag::from_petgraph(&graph).unwrap_err().to_string(), "dependency cycle: a -> b -> a");
    /// # Ok::<(), stanchion_dag::ValidationErrors<Arc<str>>>(())
    /// ```
    pub fn from_petgraph<E, Ix: IndexType>(
        graph: &Graph<N, E, Directed, Ix>,
    ) -> Result<Self, ValidationErrors<N>> {
        let mut builder = DagBuilder::with_capacity(graph.node_count());
        let mut incoming: Vec<(EdgeIndex<Ix>, &N)> = Vec::new();
        for node in graph.node_indices() {
            // petgraph lists a node's edges newest first; declare dependencies in insertion order.
            incoming.clear();
            incoming.extend(
                graph
                    .edges_directed(node, Incoming)
                    .map(|edge| (edge.id(), &graph[edge.source()])),
            );
            incoming.sort_unstable_by_key(|&(edge, _)| edge);
            builder.add_node(
                graph[node].borrow(),
                incoming.iter().map(|&(_, name)| name.borrow()),
            );
        }
        builder.build()
    }

    /// The DAG as a petgraph graph: node `i` is [`NodeIndex`] `i` weighted by its name, and each
    /// dependency is an edge from the dependency to its dependent.
    ///
    /// # Examples
    ///
    /// ```
    /// use stanchion_dag::Dag;
    ///
    /// let mut builder = Dag::builder();
    /// builder.add_node("a", []).add_node("b", ["a"]);
    /// let graph = builder.build()?.to_petgraph();
    /// let order = petgraph::algo::toposort(&graph, None).unwrap();
    /// assert_eq!(order.iter().map(|&n| &*graph[n]).collect::<Vec<_>>(), ["a", "b"]);
    /// # Ok::<(), stanchion_dag::ValidationErrors<std::sync::Arc<str>>>(())
    /// ```
    pub fn to_petgraph(&self) -> Graph<N, ()> {
        let mut graph = Graph::with_capacity(self.len(), self.edge_count());
        for name in self.names() {
            graph.add_node(N::from_key(name));
        }
        for node in (0..self.len()).map(NodeIndex::new) {
            for dependency in self.dependencies(node) {
                graph.add_edge(
                    petgraph::graph::NodeIndex::new(dependency.index()),
                    petgraph::graph::NodeIndex::new(node.index()),
                    (),
                );
            }
        }
        graph
    }
}
