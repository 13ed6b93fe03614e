//! A trace's spans as a tree, for the trace page: [`tree`] orders spans depth first, each
//! under its parent, siblings in the order given (start order), and says how deep each
//! sits. A span whose parent is not among them (a root, or a parent not stored) starts a
//! tree of its own, so every span is shown once.

use std::collections::HashMap;

/// A span's place in the tree: its index in the spans given and its depth (0 for a root).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Node {
    /// The span's index in the spans given.
    pub index: usize,
    /// How many ancestors it has among them.
    pub depth: usize,
}

/// Orders `spans` (`(span_id, parent_id)` each, in start order) depth first.
pub fn tree(spans: &[(&str, &str)]) -> Vec<Node> {
    let position: HashMap<&str, usize> =
        spans.iter().enumerate().map(|(i, (id, _))| (*id, i)).collect();
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); spans.len()];
    let mut roots = Vec::new();
    for (i, (_, parent)) in spans.iter().enumerate() {
        match position.get(parent) {
            Some(&p) if p != i => children[p].push(i),
            _ => roots.push(i),
        }
    }
    let mut seen = vec![false; spans.len()];
    let mut out = Vec::with_capacity(spans.len());
    let walk = |start: usize, out: &mut Vec<Node>, seen: &mut Vec<bool>| {
        let mut stack = vec![(start, 0)];
        while let Some((i, depth)) = stack.pop() {
            if std::mem::replace(&mut seen[i], true) {
                continue;
            }
            out.push(Node { index: i, depth });
            stack.extend(children[i].iter().rev().map(|&c| (c, depth + 1)));
        }
    };
    for root in roots {
        walk(root, &mut out, &mut seen);
    }
    // Spans only reachable through a cycle of parents: shown as roots.
    for i in 0..spans.len() {
        if !seen[i] {
            walk(i, &mut out, &mut seen);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn children_sit_under_their_parent_in_start_order() {
        let spans = [("r", "undefined"), ("a", "r"), ("b", "r"), ("a1", "a"), ("x", "gone")];
        let got: Vec<(usize, usize)> = tree(&spans).iter().map(|n| (n.index, n.depth)).collect();
        assert_eq!(got, vec![(0, 0), (1, 1), (3, 2), (2, 1), (4, 0)]);
    }

    #[test]
    fn a_cycle_of_parents_still_shows_every_span_once() {
        let spans = [("a", "b"), ("b", "a"), ("c", "c")];
        let got = tree(&spans);
        assert_eq!(got.len(), 3);
        let mut indexes: Vec<usize> = got.iter().map(|n| n.index).collect();
        indexes.sort();
        assert_eq!(indexes, vec![0, 1, 2]);
    }
}
