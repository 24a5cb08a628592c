//! Sizes that break recursive implementations: long chains and cycles, and ten million nodes.

use stanchion_dag::{Dag, ValidationError};

const CHAIN: usize = 1_000_000;

#[test]
fn million_long_chain_sorts_without_recursion() {
    let dependencies: Vec<Vec<u32>> = (0..CHAIN as u32)
        .map(|i| if i == 0 { vec![] } else { vec![i - 1] })
        .collect();
    let dag = Dag::from_indexed(&dependencies).unwrap();
    assert_eq!(dag.level_count(), CHAIN);
    assert!(
        dag.topo_order()
            .iter()
            .enumerate()
            .all(|(i, n)| n.index() == i)
    );
    assert_eq!(dag.ancestors(dag.topo_order()[CHAIN - 1]).len(), CHAIN - 1);
}

#[test]
fn million_long_cycle_is_reported_whole() {
    let dependencies: Vec<Vec<u32>> = (0..CHAIN as u32)
        .map(|i| vec![(i + 1) % CHAIN as u32])
        .collect();
    let errors = Dag::from_indexed(&dependencies).unwrap_err().into_vec();
    let [ValidationError::Cycle { path, others }] = errors.as_slice() else {
        panic!("{errors:?}")
    };
    assert_eq!(path.len(), CHAIN + 1);
    assert_eq!((path[0], path[1], path[CHAIN]), (0, 1, 0));
    assert!(others.is_empty(), "the whole component is on the path");
}

#[test]
fn ten_million_nodes() {
    const NODES: usize = 10_000_000;
    // A binary tree: node i depends on its parent i / 2.
    let parents: Vec<u32> = (0..NODES as u32).map(|i| i / 2).collect();
    let rows: Vec<&[u32]> = (0..NODES)
        .map(|i| {
            if i == 0 {
                &parents[..0]
            } else {
                &parents[i..=i]
            }
        })
        .collect();
    let dag = Dag::from_indexed(&rows).unwrap();
    assert_eq!(dag.len(), NODES);
    // Node 0 is level 0 and node i > 0 is level floor(log2 i) + 1; 2^23 <= 10M - 1 < 2^24.
    assert_eq!(dag.level_count(), 25);
}
