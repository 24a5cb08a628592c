//! The index-level algorithms: compressed adjacency rows, Kahn's sort with levels, and the cycle
//! finder that runs only when the sort could not finish. Nothing here knows about names.

use crate::NodeIndex;

/// Compressed sparse rows: the neighbours of node `i` are `targets[offsets[i]..offsets[i + 1]]`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Csr {
    offsets: Vec<usize>,
    targets: Vec<NodeIndex>,
}

impl Csr {
    pub(crate) fn with_capacity(nodes: usize, edges: usize) -> Self {
        let mut offsets = Vec::with_capacity(nodes + 1);
        offsets.push(0);
        Self {
            offsets,
            targets: Vec::with_capacity(edges),
        }
    }

    /// Appends one target to the row being built; `end_row` closes it.
    #[inline]
    pub(crate) fn push_target(&mut self, target: NodeIndex) {
        self.targets.push(target);
    }

    #[inline]
    pub(crate) fn end_row(&mut self) {
        self.offsets.push(self.targets.len());
    }

    #[inline]
    pub(crate) fn node_count(&self) -> usize {
        self.offsets.len() - 1
    }

    #[inline]
    pub(crate) fn edge_count(&self) -> usize {
        self.targets.len()
    }

    /// Where `node`'s row starts and ends among the targets.
    #[inline]
    pub(crate) fn bounds(&self, node: NodeIndex) -> (usize, usize) {
        (self.offsets[node.index()], self.offsets[node.index() + 1])
    }

    #[inline]
    pub(crate) fn target(&self, at: usize) -> NodeIndex {
        self.targets[at]
    }

    #[inline]
    pub(crate) fn row(&self, node: NodeIndex) -> &[NodeIndex] {
        let i = node.index();
        &self.targets[self.offsets[i]..self.offsets[i + 1]]
    }

    /// The reversed graph, each row in increasing node order (a counting sort of the edges).
    pub(crate) fn transpose(&self) -> Csr {
        let n = self.node_count();
        let mut offsets = vec![0usize; n + 1];
        for target in &self.targets {
            offsets[target.index() + 1] += 1;
        }
        for i in 0..n {
            offsets[i + 1] += offsets[i];
        }
        let mut cursor = offsets.clone();
        let mut targets = vec![NodeIndex::new(0); self.targets.len()];
        for source in 0..n {
            for target in self.row(NodeIndex::new(source)) {
                let slot = &mut cursor[target.index()];
                targets[*slot] = NodeIndex::new(source);
                *slot += 1;
            }
        }
        Csr { offsets, targets }
    }
}

/// A topological order grouped into levels: level `k` is
/// `order[level_offsets[k]..level_offsets[k + 1]]`, in declaration order within the level.
#[derive(Debug, Clone, Default)]
pub(crate) struct Levels {
    pub(crate) order: Vec<NodeIndex>,
    pub(crate) level_offsets: Vec<usize>,
}

const UNVISITED: u32 = u32::MAX;
const ACTIVE: u32 = u32::MAX - 1;

/// One node being explored: its remaining dependency edges and the deepest level seen below it.
struct Frame {
    node: NodeIndex,
    next: usize,
    end: usize,
    level: u32,
}

/// Every node's level (0 without dependencies, else one past its deepest dependency), grouped and
/// ordered by level then index; `None` if the graph has a cycle.
///
/// An iterative depth-first search along dependency edges: a node's level is known once all its
/// dependencies are, which is when the search leaves it. This reads each edge once, with one random
/// access to the target's level, instead of the in-degree counting and reversed adjacency that
/// Kahn's algorithm needs; the resulting order is the one Kahn's algorithm yields when it is run
/// level by level with ties broken by declaration. [`ReadySet`](crate::ReadySet) is Kahn's
/// algorithm, run incrementally as nodes complete.
pub(crate) fn levels(dependencies: &Csr) -> Option<Levels> {
    let n = dependencies.node_count();
    let mut level = vec![UNVISITED; n];
    let mut stack: Vec<Frame> = Vec::new();
    let mut depth = 0;
    for root in 0..n {
        if level[root] != UNVISITED {
            continue;
        }
        let root = NodeIndex::new(root);
        level[root.index()] = ACTIVE;
        let (next, end) = dependencies.bounds(root);
        stack.push(Frame {
            node: root,
            next,
            end,
            level: 0,
        });
        while let Some(frame) = stack.last_mut() {
            if frame.next < frame.end {
                let dependency = dependencies.target(frame.next);
                frame.next += 1;
                match level[dependency.index()] {
                    UNVISITED => {
                        level[dependency.index()] = ACTIVE;
                        let (next, end) = dependencies.bounds(dependency);
                        stack.push(Frame {
                            node: dependency,
                            next,
                            end,
                            level: 0,
                        });
                    }
                    ACTIVE => return None,
                    known => frame.level = frame.level.max(known + 1),
                }
            } else {
                let done = stack.pop().expect("the loop holds a frame");
                level[done.node.index()] = done.level;
                depth = depth.max(done.level);
                if let Some(parent) = stack.last_mut() {
                    parent.level = parent.level.max(done.level + 1);
                }
            }
        }
    }
    Some(order_by_level(
        &level,
        if n == 0 { 0 } else { depth as usize + 1 },
    ))
}

/// A counting sort of the nodes by level; scanning in index order keeps declaration order within
/// each level.
fn order_by_level(level: &[u32], levels: usize) -> Levels {
    let mut level_offsets = vec![0usize; levels + 1];
    for &l in level {
        level_offsets[l as usize + 1] += 1;
    }
    for k in 0..levels {
        level_offsets[k + 1] += level_offsets[k];
    }
    let mut cursor = level_offsets.clone();
    let mut order = vec![NodeIndex::from_u32(0); level.len()];
    for (i, &l) in level.iter().enumerate() {
        let slot = &mut cursor[l as usize];
        order[*slot] = NodeIndex::from_u32(i as u32);
        *slot += 1;
    }
    Levels {
        order,
        level_offsets,
    }
}

/// A cycle, and the rest of the strongly connected component it runs through.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Cycle {
    /// A shortest cycle through the component's lowest index, which starts and ends it.
    pub(crate) path: Vec<NodeIndex>,
    /// The component's nodes that the path does not pass through, in increasing index order.
    pub(crate) others: Vec<NodeIndex>,
}

const NONE: u32 = u32::MAX;

/// Every strongly connected component of two or more nodes, ordered by their lowest index, each
/// with a shortest cycle through that node. Iterative (Tarjan's algorithm with an explicit stack),
/// so a long cycle cannot overflow the call stack. Runs only once a graph is known to be cyclic.
pub(crate) fn cycles(dependencies: &Csr) -> Vec<Cycle> {
    let n = dependencies.node_count();

    // Tarjan's strongly connected components, following dependency edges.
    let mut index = vec![NONE; n];
    let mut lowlink = vec![NONE; n];
    let mut on_stack = vec![false; n];
    let mut stack: Vec<NodeIndex> = Vec::new();
    let mut calls: Vec<(NodeIndex, usize)> = Vec::new();
    let mut counter = 0;
    let mut components: Vec<Vec<NodeIndex>> = Vec::new();
    for root in (0..n).map(NodeIndex::new) {
        if index[root.index()] != NONE {
            continue;
        }
        index[root.index()] = counter;
        lowlink[root.index()] = counter;
        counter += 1;
        stack.push(root);
        on_stack[root.index()] = true;
        calls.push((root, 0));
        while let Some((node, edge)) = calls.last_mut() {
            let (node, row) = (*node, dependencies.row(*node));
            if let Some(&next) = row.get(*edge) {
                *edge += 1;
                if index[next.index()] == NONE {
                    index[next.index()] = counter;
                    lowlink[next.index()] = counter;
                    counter += 1;
                    stack.push(next);
                    on_stack[next.index()] = true;
                    calls.push((next, 0));
                } else if on_stack[next.index()] {
                    lowlink[node.index()] = lowlink[node.index()].min(index[next.index()]);
                }
                continue;
            }
            calls.pop();
            if let Some(&(parent, _)) = calls.last() {
                lowlink[parent.index()] = lowlink[parent.index()].min(lowlink[node.index()]);
            }
            if lowlink[node.index()] == index[node.index()] {
                let mut component = Vec::new();
                loop {
                    let member = stack.pop().expect("the component's root is on the stack");
                    on_stack[member.index()] = false;
                    component.push(member);
                    if member == node {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort_unstable();
                    components.push(component);
                }
            }
        }
    }
    components.sort_unstable_by_key(|component| component[0]);

    // Reuse `index` as the component id of each node and `lowlink` as the BFS parent.
    let (membership, parent) = (&mut index, &mut lowlink);
    membership.fill(NONE);
    parent.fill(NONE);
    for (id, component) in components.iter().enumerate() {
        for node in component {
            membership[node.index()] = id as u32;
        }
    }
    components
        .into_iter()
        .enumerate()
        .map(|(id, component)| {
            let path = shortest_cycle(
                dependencies,
                component[0],
                |node| membership[node.index()] == id as u32,
                parent,
            );
            // Unmark the path's nodes; the component's nodes still marked are the others.
            for node in &path {
                membership[node.index()] = NONE;
            }
            let others = component
                .into_iter()
                .filter(|node| membership[node.index()] == id as u32)
                .collect();
            Cycle { path, others }
        })
        .collect()
}

/// A breadth-first search from `start` inside one component for the first edge back to `start`.
fn shortest_cycle(
    dependencies: &Csr,
    start: NodeIndex,
    inside: impl Fn(NodeIndex) -> bool,
    parent: &mut [u32],
) -> Vec<NodeIndex> {
    let mut queue = vec![start];
    parent[start.index()] = start.index() as u32;
    let mut head = 0;
    while let Some(&node) = queue.get(head) {
        head += 1;
        for &next in dependencies.row(node) {
            if next == start {
                let mut path = vec![node];
                while *path.last().expect("path is not empty") != start {
                    let back = parent[path.last().expect("path is not empty").index()];
                    path.push(NodeIndex::new(back as usize));
                }
                path.reverse();
                path.push(start);
                return path;
            }
            if inside(next) && parent[next.index()] == NONE {
                parent[next.index()] = node.index() as u32;
                queue.push(next);
            }
        }
    }
    unreachable!(
        "a strongly connected component of two or more nodes has a cycle through each node"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csr(rows: &[&[usize]]) -> Csr {
        let mut csr = Csr::with_capacity(rows.len(), 0);
        for row in rows {
            for &target in *row {
                csr.push_target(NodeIndex::new(target));
            }
            csr.end_row();
        }
        csr
    }

    fn indices(nodes: &[NodeIndex]) -> Vec<usize> {
        nodes.iter().map(|n| n.index()).collect()
    }

    #[test]
    fn transpose_keeps_sources_in_order() {
        let t = csr(&[&[1, 2], &[2], &[]]).transpose();
        assert_eq!(indices(t.row(NodeIndex::new(2))), [0, 1]);
        assert_eq!(indices(t.row(NodeIndex::new(1))), [0]);
        assert!(t.row(NodeIndex::new(0)).is_empty());
    }

    #[test]
    fn levels_in_declaration_order() {
        // 0 needs 2; 1 needs nothing; 2 needs 1; 3 needs nothing.
        let dependencies = csr(&[&[2], &[], &[1], &[]]);
        let levels = levels(&dependencies).unwrap();
        assert_eq!(indices(&levels.order), [1, 3, 2, 0]);
        assert_eq!(levels.level_offsets, [0, 2, 3, 4]);
    }

    #[test]
    fn cycle_is_shortest_through_lowest_index() {
        // 0 -> 1 -> 2 -> 0 and a shortcut 0 -> 3 -> 0; 4 is only downstream.
        let dependencies = csr(&[&[1, 3], &[2], &[0], &[0], &[0]]);
        assert!(levels(&dependencies).is_none());
        let found = cycles(&dependencies);
        assert_eq!(found.len(), 1);
        assert_eq!(indices(&found[0].path), [0, 3, 0]);
        assert_eq!(indices(&found[0].others), [1, 2]);
    }
}
