//! stanchion-dag against petgraph and topological-sort: validate and order random DAGs.
//!
//! The graphs have an average of 4 dependencies per node, drawn uniformly among the nodes earlier in
//! a hidden topological order, and are declared in shuffled order so the input is not already sorted.

use std::collections::HashMap;
use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use petgraph::Graph;
use petgraph::graph::NodeIndex;
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use stanchion_benches::OURS;
use stanchion_dag::{Dag, DagBuilder};

const SIZES: [(usize, &str); 3] = [(1_000, "1k"), (100_000, "100k"), (1_000_000, "1m")];

/// Dependency lists of a random DAG: node `i` depends on `rows[i]`.
fn random_dag(nodes: usize, seed: u64) -> Vec<Vec<u32>> {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut position: Vec<u32> = (0..nodes as u32).collect();
    position.shuffle(&mut rng);
    let mut rows = vec![Vec::new(); nodes];
    for rank in 1..nodes {
        let count = rng.random_range(0..=8).min(rank);
        rows[position[rank] as usize] = (0..count)
            .map(|_| position[rng.random_range(0..rank)])
            .collect::<Vec<_>>();
    }
    rows
}

fn petgraph_of(rows: &[Vec<u32>]) -> Graph<(), ()> {
    let edge_count = rows.iter().map(Vec::len).sum();
    let mut graph = Graph::with_capacity(rows.len(), edge_count);
    for _ in rows {
        graph.add_node(());
    }
    for (node, row) in rows.iter().enumerate() {
        for &dependency in row {
            graph.add_edge(
                NodeIndex::new(dependency as usize),
                NodeIndex::new(node),
                (),
            );
        }
    }
    graph
}

fn from_ids(c: &mut Criterion) {
    let mut group = c.benchmark_group("dag/ids");
    group.sample_size(10);
    for (nodes, label) in SIZES {
        let rows = random_dag(nodes, 42);
        let graph = petgraph_of(&rows);
        group.throughput(Throughput::Elements(nodes as u64));
        // Ours builds, validates and orders from the dependency lists. petgraph does the same work
        // (build from the same lists, then sort); `petgraph-prebuilt` only sorts a graph built
        // beforehand, which is the most favourable measurement of petgraph there is.
        group.bench_function(BenchmarkId::new(format!("{OURS}-ids"), label), |b| {
            b.iter(|| {
                Dag::from_indexed(black_box(&rows))
                    .unwrap()
                    .topo_order()
                    .len()
            })
        });
        group.bench_function(BenchmarkId::new("petgraph", label), |b| {
            b.iter(|| {
                petgraph::algo::toposort(&petgraph_of(black_box(&rows)), None)
                    .unwrap()
                    .len()
            })
        });
        group.bench_function(BenchmarkId::new("petgraph-prebuilt", label), |b| {
            b.iter(|| {
                petgraph::algo::toposort(black_box(&graph), None)
                    .unwrap()
                    .len()
            })
        });
    }
    group.finish();
}

fn from_names(c: &mut Criterion) {
    let mut group = c.benchmark_group("dag/named");
    group.sample_size(10);
    for (nodes, label) in SIZES {
        let rows = random_dag(nodes, 42);
        let names: Vec<String> = (0..nodes).map(|i| format!("step-{i}")).collect();
        let steps: Vec<(&str, Vec<&str>)> = rows
            .iter()
            .enumerate()
            .map(|(node, row)| {
                (
                    names[node].as_str(),
                    row.iter().map(|&d| names[d as usize].as_str()).collect(),
                )
            })
            .collect();
        group.throughput(Throughput::Elements(nodes as u64));

        group.bench_function(BenchmarkId::new(OURS, label), |b| {
            b.iter(|| {
                let mut builder = DagBuilder::<std::sync::Arc<str>>::with_capacity(nodes);
                for (name, dependencies) in black_box(&steps) {
                    builder.add_node(name, dependencies.iter().copied());
                }
                builder.build().unwrap().topo_order().len()
            })
        });
        group.bench_function(BenchmarkId::new("petgraph", label), |b| {
            b.iter(|| {
                let steps = black_box(&steps);
                let mut graph = Graph::<&str, ()>::with_capacity(nodes, nodes * 4);
                let index: HashMap<&str, _> = steps
                    .iter()
                    .map(|(name, _)| (*name, graph.add_node(*name)))
                    .collect();
                for (name, dependencies) in steps {
                    for dependency in dependencies {
                        graph.add_edge(index[dependency], index[name], ());
                    }
                }
                petgraph::algo::toposort(&graph, None).unwrap().len()
            })
        });
        // topological-sort needs about 10 s for one run of a million nodes (criterion takes at least
        // ten); it is compared at the smaller sizes only, where it is already several times slower.
        if nodes > 100_000 {
            continue;
        }
        group.bench_function(BenchmarkId::new("topological-sort", label), |b| {
            b.iter(|| {
                let mut sort = topological_sort::TopologicalSort::<&str>::new();
                for (name, dependencies) in black_box(&steps) {
                    sort.insert(*name);
                    for dependency in dependencies {
                        sort.add_dependency(*dependency, *name);
                    }
                }
                let mut ordered = 0;
                loop {
                    let level: Vec<&str> = sort.pop_batch();
                    if level.is_empty() {
                        break;
                    }
                    ordered += level.len();
                }
                assert!(sort.is_empty(), "the graph is acyclic");
                ordered
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = stanchion_benches::criterion();
    targets = from_ids, from_names
}
criterion_main!(benches);
