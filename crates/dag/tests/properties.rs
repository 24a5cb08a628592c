//! Property tests against petgraph and against naive reference models.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use petgraph::Graph;
use proptest::prelude::*;
use stanchion_dag::{Dag, DagBuilder, NodeIndex, ValidationError};

/// A graph as dependency lists over `0..n`, acyclic by construction half of the time.
fn graphs() -> impl Strategy<Value = Vec<Vec<u32>>> {
    (1usize..24, any::<bool>()).prop_flat_map(|(n, acyclic)| {
        proptest::collection::vec(proptest::collection::vec(0..n as u32, 0..4), n).prop_map(
            move |mut rows| {
                if acyclic {
                    for (node, row) in rows.iter_mut().enumerate() {
                        row.retain(|&dependency| (dependency as usize) < node);
                    }
                }
                rows
            },
        )
    })
}

/// petgraph's view: an edge from each dependency to its dependent, self loops included.
fn petgraph_of(rows: &[Vec<u32>]) -> Graph<(), ()> {
    let mut graph = Graph::new();
    let nodes: Vec<_> = rows.iter().map(|_| graph.add_node(())).collect();
    for (node, row) in rows.iter().enumerate() {
        for &dependency in row {
            graph.add_edge(nodes[dependency as usize], nodes[node], ());
        }
    }
    graph
}

fn depends(rows: &[Vec<u32>], node: u32, on: u32) -> bool {
    rows[node as usize].contains(&on)
}

/// The length (in edges) of a shortest cycle through `start` within `component`, by
/// Floyd-Warshall distances: a naive model of the breadth-first search.
fn shortest_cycle_len(rows: &[Vec<u32>], start: u32, component: &BTreeSet<u32>) -> usize {
    let members: Vec<u32> = component.iter().copied().collect();
    let at: HashMap<u32, usize> = members.iter().enumerate().map(|(i, &m)| (m, i)).collect();
    let k = members.len();
    let mut distance = vec![vec![usize::MAX / 2; k]; k];
    for (i, &m) in members.iter().enumerate() {
        for &d in &rows[m as usize] {
            if let Some(&j) = at.get(&d).filter(|_| d != m) {
                distance[i][j] = 1;
            }
        }
    }
    for via in 0..k {
        for i in 0..k {
            for j in 0..k {
                distance[i][j] = distance[i][j].min(distance[i][via] + distance[via][j]);
            }
        }
    }
    distance[at[&start]][at[&start]]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Names declared in a shuffled order with forward references: the named build agrees with
    /// the indexed one, node for node, and every name maps back to its node.
    #[test]
    fn named_and_indexed_builds_agree(rows in graphs(), rotation in 0usize..24) {
        let n = rows.len();
        let name = |i: usize| format!("n{}", (i + rotation) % n);
        let mut builder = DagBuilder::<String>::new();
        // Declare in reverse so dependencies (lower numbers in acyclic graphs) are mentioned first.
        let order: Vec<usize> = (0..n).rev().collect();
        for &node in &order {
            builder.add_node(&name(node), rows[node].iter().map(|&d| name(d as usize)).collect::<Vec<_>>().iter().map(String::as_str));
        }
        let named = builder.build();
        let indexed = Dag::from_indexed(&rows);
        prop_assert_eq!(named.is_ok(), indexed.is_ok());
        if let (Ok(named), Ok(indexed)) = (named, indexed) {
            for (position, &node) in order.iter().enumerate() {
                let key = name(node);
                prop_assert_eq!(named.index_of(&key), Some(NodeIndex::new(position)));
                prop_assert_eq!(named.name(NodeIndex::new(position)), key.as_str());
            }
            // The same graph: each node's level agrees, though declaration order differs.
            let level_of = |dag_levels: Vec<Vec<usize>>| {
                let mut level = vec![0; n];
                for (k, nodes) in dag_levels.into_iter().enumerate() {
                    for node in nodes {
                        level[node] = k;
                    }
                }
                level
            };
            let named_levels = level_of(named.levels().map(|l| l.iter().map(|p| order[p.index()]).collect()).collect());
            let indexed_levels = level_of(indexed.levels().map(|l| l.iter().map(|p| p.index()).collect()).collect());
            prop_assert_eq!(named_levels, indexed_levels);
        }
    }

    /// Exporting to petgraph and back gives the same graph.
    #[test]
    fn petgraph_round_trip(rows in graphs()) {
        if let Ok(dag) = Dag::from_indexed(&rows) {
            let mut builder = DagBuilder::<String>::new();
            for (node, row) in rows.iter().enumerate() {
                let deps: Vec<String> = row.iter().map(|d| d.to_string()).collect();
                builder.add_node(&node.to_string(), deps.iter().map(String::as_str));
            }
            let named = builder.build().unwrap();
            let back = Dag::<String>::from_petgraph(&named.to_petgraph()).unwrap();
            prop_assert_eq!(back.len(), dag.len());
            for node in (0..dag.len()).map(NodeIndex::new) {
                let mut expected: Vec<usize> = dag.dependencies(node).iter().map(|d| d.index()).collect();
                expected.sort_unstable();
                expected.dedup();
                let mut got: Vec<usize> = back.dependencies(node).iter().map(|d| d.index()).collect();
                got.sort_unstable();
                prop_assert_eq!(got, expected);
            }
        }
    }

    #[test]
    fn agrees_with_petgraph_and_the_models(rows in graphs()) {
        let graph = petgraph_of(&rows);
        let result = Dag::from_indexed(&rows);
        prop_assert_eq!(result.is_ok(), petgraph::algo::toposort(&graph, None).is_ok());

        match result {
            Ok(dag) => {
                // A permutation, each node after its dependencies, levels one past the deepest dependency.
                let mut position = vec![usize::MAX; rows.len()];
                for (i, node) in dag.topo_order().iter().enumerate() {
                    position[node.index()] = i;
                }
                prop_assert!(position.iter().all(|&p| p != usize::MAX));
                let mut level = vec![0; rows.len()];
                for (k, nodes) in dag.levels().enumerate() {
                    prop_assert!(nodes.windows(2).all(|w| w[0] < w[1]), "declaration order within a level");
                    for node in nodes {
                        level[node.index()] = k;
                    }
                }
                for (node, row) in rows.iter().enumerate() {
                    for &dependency in row {
                        prop_assert!(position[dependency as usize] < position[node]);
                    }
                    let expected = row.iter().map(|&d| level[d as usize] + 1).max().unwrap_or(0);
                    prop_assert_eq!(level[node], expected);
                }

                // Executing wave by wave through the ready set reproduces the levels.
                let mut run = dag.ready_set();
                let mut wave: Vec<NodeIndex> = run.ready().collect();
                for nodes in dag.levels() {
                    prop_assert_eq!(&wave, nodes);
                    let mut next = Vec::new();
                    for node in wave {
                        next.extend_from_slice(run.complete(node).unwrap());
                    }
                    next.sort_unstable();
                    wave = next;
                }
                prop_assert!(wave.is_empty() && run.is_finished());
            }
            Err(errors) => {
                let self_loops: Vec<u32> =
                    (0..rows.len() as u32).filter(|&node| depends(&rows, node, node)).collect();
                let mut reported_loops = Vec::new();
                let mut reported = BTreeSet::new();
                for error in &errors {
                    match error {
                        ValidationError::SelfLoop { node } => reported_loops.push(*node),
                        ValidationError::Cycle { path, others } => {
                            prop_assert!(others.windows(2).all(|w| w[0] < w[1]), "others in declaration order");
                            prop_assert!(others.iter().all(|o| !path.contains(o)), "others are off the path");
                            let members: BTreeSet<u32> = path.iter().chain(others).copied().collect();
                            prop_assert_eq!(path[0], *members.first().unwrap(), "starts at the first-declared node");
                            prop_assert_eq!(path.first(), path.last());
                            let inner: BTreeSet<u32> = path[1..].iter().copied().collect();
                            prop_assert_eq!(inner.len(), path.len() - 1, "no node repeats inside the cycle");
                            for hop in path.windows(2) {
                                prop_assert!(depends(&rows, hop[0], hop[1]), "{} does not depend on {}", hop[0], hop[1]);
                            }
                            prop_assert_eq!(path.len() - 1, shortest_cycle_len(&rows, path[0], &members));
                            reported.extend(members);
                        }
                        other => prop_assert!(false, "unexpected {other:?}"),
                    }
                }
                prop_assert_eq!(reported_loops, self_loops);

                // Every node of every cyclic strongly connected component is named, and no other.
                let mut without_loops = graph.clone();
                without_loops.retain_edges(|g, e| {
                    let (a, b) = g.edge_endpoints(e).unwrap();
                    a != b
                });
                let expected: BTreeSet<u32> = petgraph::algo::tarjan_scc(&without_loops)
                    .into_iter()
                    .filter(|scc| scc.len() > 1)
                    .flatten()
                    .map(|n| n.index() as u32)
                    .collect();
                prop_assert_eq!(reported, expected);
            }
        }
    }

    #[test]
    fn named_problems_match_a_model(
        nodes in proptest::collection::vec(
            (prop::sample::select(vec!["", "a", "b", "c", "d", "e"]),
             proptest::collection::vec(prop::sample::select(vec!["", "a", "b", "c", "x", "y"]), 0..3)),
            0..8,
        )
    ) {
        let mut builder = DagBuilder::<String>::new();
        for (name, dependencies) in &nodes {
            builder.add_node(name, dependencies.iter().copied());
        }
        let errors = match builder.build() {
            Ok(dag) => {
                prop_assert_eq!(dag.len(), nodes.len());
                Vec::new()
            }
            Err(errors) => errors.into_vec(),
        };

        // The model: what the rules say, kind by kind, in declaration order.
        let declared: BTreeSet<&str> = nodes.iter().map(|(name, _)| *name).collect();
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for (name, _) in &nodes {
            *counts.entry(name).or_default() += 1;
        }
        let mut expected = Vec::new();
        for (position, (name, _)) in nodes.iter().enumerate() {
            if name.is_empty() {
                expected.push(ValidationError::EmptyName { position });
            }
        }
        let mut seen = BTreeSet::new();
        for (name, _) in &nodes {
            if !name.is_empty() && counts[name] > 1 && seen.insert(*name) {
                expected.push(ValidationError::DuplicateNode { name: name.to_string(), count: counts[name] });
            }
        }
        for (name, dependencies) in &nodes {
            let mut listed = BTreeSet::new();
            for dependency in dependencies {
                if listed.insert(dependency) && !declared.contains(dependency) {
                    expected.push(ValidationError::MissingDependency {
                        node: name.to_string(),
                        missing: dependency.to_string(),
                    });
                }
            }
        }
        for (name, dependencies) in &nodes {
            if dependencies.contains(name) && declared.contains(name) {
                expected.push(ValidationError::SelfLoop { node: name.to_string() });
            }
        }
        let without_cycles: Vec<_> =
            errors.into_iter().filter(|e| !matches!(e, ValidationError::Cycle { .. })).collect();
        prop_assert_eq!(without_cycles, expected);
    }
}
