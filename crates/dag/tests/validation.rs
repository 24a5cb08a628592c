//! The exact diagnostics, one table row per case, and the queries of a valid DAG.

use std::sync::Arc;

use stanchion_dag::{Dag, DagBuilder, NodeIndex, ReadyError, ValidationError};

/// Nodes as (name, dependencies).
type Steps<'a> = &'a [(&'a str, &'a [&'a str])];

/// Builds `nodes` and returns the error text, or "ok".
fn diagnose(nodes: Steps<'_>) -> String {
    let mut builder = DagBuilder::<Arc<str>>::new();
    for &(name, dependencies) in nodes {
        builder.add_node(name, dependencies.iter().copied());
    }
    match builder.build() {
        Ok(_) => "ok".to_owned(),
        Err(errors) => errors.to_string(),
    }
}

#[test]
fn diagnostics_name_every_problem_in_order() {
    let cases: &[(Steps<'_>, &str)] = &[
        (&[], "ok"),
        (&[("a", &[]), ("b", &["a", "a"])], "ok"),
        (&[("", &[])], "node at position 0 has an empty name"),
        (
            &[("a", &[]), ("a", &[]), ("a", &[])],
            "node a is declared 3 times",
        ),
        (
            &[("test", &["build"])],
            "node test depends on build, which is not declared",
        ),
        (&[("a", &["a", "a"])], "node a depends on itself"),
        (
            &[("a", &["b"]), ("b", &["a"])],
            "dependency cycle: a -> b -> a",
        ),
        (
            &[("x", &["c"]), ("a", &["c"]), ("b", &["a"]), ("c", &["b"])],
            "dependency cycle: a -> c -> b -> a",
        ),
        (
            // Two components, reported in the order of their first-declared nodes.
            &[("p", &["q"]), ("a", &["b"]), ("q", &["p"]), ("b", &["a"])],
            "dependency cycle: p -> q -> p\ndependency cycle: a -> b -> a",
        ),
        (
            // A shortcut makes a -> d -> a the shortest cycle; b and c are named as the rest of the tangle.
            &[
                ("a", &["b", "d"]),
                ("b", &["c"]),
                ("c", &["a"]),
                ("d", &["a"]),
            ],
            "dependency cycle: a -> d -> a (its component also holds b, c)",
        ),
        (
            &[
                ("", &[]),
                ("build", &["", "lint"]),
                ("build", &[]),
                ("test", &["test", "build"]),
                ("lint", &["test"]),
            ],
            "node at position 0 has an empty name\n\
             node build is declared 2 times\n\
             node test depends on itself\n\
             dependency cycle: build -> lint -> test -> build",
        ),
    ];
    for (nodes, expected) in cases {
        assert_eq!(diagnose(nodes), *expected, "{nodes:?}");
    }
}

#[test]
fn errors_are_structured() {
    let mut builder = Dag::builder();
    builder.add_node("a", ["b"]).add_node("b", ["a", "c"]);
    let errors = builder.build().unwrap_err();
    assert_eq!(errors.len(), 2);
    let errors = errors.into_vec();
    assert_eq!(
        errors[0],
        ValidationError::MissingDependency {
            node: "b".into(),
            missing: "c".into()
        }
    );
    assert_eq!(
        errors[1],
        ValidationError::Cycle {
            path: vec!["a".into(), "b".into(), "a".into()],
            others: vec![]
        }
    );
}

#[test]
fn empty_graphs() {
    let dag = Dag::from_indexed::<Vec<u32>>(&[]).unwrap();
    assert!(dag.is_empty() && dag.topo_order().is_empty() && dag.levels().len() == 0);
    assert!(dag.ready_set().is_finished());
    assert!(Dag::builder().build().unwrap().is_empty());
}

#[test]
fn indexed_diagnostics() {
    let errors = Dag::from_indexed(&[vec![7, 7, 8, 7], vec![1], vec![3], vec![2]]).unwrap_err();
    assert_eq!(
        errors.to_string(),
        "node 0 depends on 7, which is not declared\nnode 0 depends on 8, which is not declared\n\
         node 1 depends on itself\ndependency cycle: 2 -> 3 -> 2"
    );
    let errors = Dag::from_indexed(&[vec![7], vec![1], vec![3], vec![2]]).unwrap_err();
    assert_eq!(
        errors.to_string(),
        "node 0 depends on 7, which is not declared\nnode 1 depends on itself\ndependency cycle: 2 -> 3 -> 2"
    );
}

#[test]
fn first_declaration_of_a_duplicate_is_the_one_depended_on() {
    // The second `a` depends on `b`; were it the one `b` refers to, this would also be a cycle.
    assert_eq!(
        diagnose(&[("a", &[]), ("b", &["a"]), ("a", &["b"])]),
        "node a is declared 2 times"
    );
}

#[test]
fn queries_of_a_valid_dag() {
    let mut builder = Dag::builder();
    builder
        .add_node("deploy", ["package", "test"])
        .add_node("package", ["build"])
        .add_node("test", ["build"])
        .add_node("build", ["fetch"])
        .add_node("fetch", [])
        .add_node("docs", []);
    let dag = builder.build().unwrap();
    let names = |nodes: &[NodeIndex]| {
        nodes
            .iter()
            .map(|&n| dag.name(n).to_string())
            .collect::<Vec<_>>()
    };
    let node = |name: &str| dag.index_of(name).unwrap();

    assert_eq!((dag.len(), dag.edge_count(), dag.level_count()), (6, 5, 4));
    assert_eq!(
        names(dag.topo_order()),
        ["fetch", "docs", "build", "package", "test", "deploy"]
    );
    let levels: Vec<_> = dag.levels().map(names).collect();
    assert_eq!(
        levels,
        [
            vec!["fetch", "docs"],
            vec!["build"],
            vec!["package", "test"],
            vec!["deploy"]
        ]
    );
    assert_eq!(names(dag.dependencies(node("deploy"))), ["package", "test"]);
    assert_eq!(names(dag.dependents(node("build"))), ["package", "test"]);
    assert_eq!(
        names(&dag.ancestors(node("deploy"))),
        ["package", "test", "build", "fetch"]
    );
    assert_eq!(
        names(&dag.descendants(node("fetch"))),
        ["deploy", "package", "test", "build"]
    );
    assert!(dag.descendants(node("docs")).is_empty());
    assert_eq!(dag.index_of("nope"), None);
}

#[test]
fn ready_set_refuses_out_of_order_completions() {
    let dag = Dag::from_indexed(&[vec![], vec![0], vec![0, 1]]).unwrap();
    let mut run = dag.ready_set();
    let (a, b, c) = (NodeIndex::new(0), NodeIndex::new(1), NodeIndex::new(2));
    assert_eq!(
        run.complete(c),
        Err(ReadyError::NotReady {
            node: c,
            waiting_on: 2
        })
    );
    assert_eq!(
        run.complete(NodeIndex::new(9)),
        Err(ReadyError::UnknownNode {
            node: NodeIndex::new(9)
        })
    );
    assert_eq!(run.complete(a).unwrap(), [b]);
    assert_eq!(
        run.complete(a),
        Err(ReadyError::AlreadyCompleted { node: a })
    );
    assert_eq!(
        run.complete(c).unwrap_err().to_string(),
        "node #2 cannot complete: it still waits for 1 of its listed dependencies"
    );
    assert_eq!(run.ready().collect::<Vec<_>>(), [b]);
    assert_eq!(run.complete(b).unwrap(), [c]);
    assert!(run.is_completed(b) && !run.is_finished());
    run.complete(c).unwrap();
    assert!(run.is_finished());
    assert_eq!(run.completed(), 3);
}

#[test]
fn integer_and_owned_string_names() {
    let mut numbers = DagBuilder::<u32>::new();
    numbers.add_node(&10, [&20]).add_node(&20, []);
    let dag = numbers.build().unwrap();
    assert_eq!(dag.name(dag.topo_order()[0]), &20);
    assert_eq!(dag.index_of(&10), Some(NodeIndex::new(0)));

    let mut strings = DagBuilder::<String>::new();
    let steps = vec![
        ("b".to_owned(), vec!["a".to_owned()]),
        ("a".to_owned(), vec![]),
    ];
    for (name, dependencies) in &steps {
        strings.add_node(name, dependencies.iter().map(String::as_str));
    }
    assert_eq!(strings.len(), 2);
    assert_eq!(
        strings.build().unwrap().names().collect::<Vec<_>>(),
        ["b", "a"]
    );
}

#[test]
fn repeated_indexed_dependencies_release_once() {
    let dag = Dag::from_indexed(&[vec![], vec![0, 0]]).unwrap();
    let (a, b) = (NodeIndex::new(0), NodeIndex::new(1));
    assert_eq!(dag.dependencies(b), [a, a]);
    let mut run = dag.ready_set();
    assert_eq!(
        run.complete(b),
        Err(ReadyError::NotReady {
            node: b,
            waiting_on: 2
        })
    );
    assert_eq!(run.complete(a).unwrap(), [b]);
    run.complete(b).unwrap();
    assert!(run.is_finished());
}

#[test]
#[should_panic(expected = "#5 is not a node of this dag of 2 nodes")]
fn out_of_range_index_panics_with_a_message() {
    let dag = Dag::from_indexed(&[vec![], vec![0]]).unwrap();
    let _ = dag.dependents(NodeIndex::new(5));
}
