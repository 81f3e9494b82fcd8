//! From the logical graph to tasks: which operators are fused into one chain.
//!
//! A node joins its predecessor's chain when the edge between them is a forward edge of the
//! main output, both have the same parallelism, the node has no other input and the predecessor
//! no other output. Records then pass between them as plain function calls.

use freshet_core::Partitioning;
use freshet_dataflow::{JobGraph, NodeId};

/// A chain of operators run by one task per subtask.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainSpec {
    /// The nodes, head first.
    pub nodes: Vec<NodeId>,
    /// Their common parallelism.
    pub parallelism: u32,
}

impl ChainSpec {
    /// The first node.
    pub fn head(&self) -> NodeId {
        self.nodes[0]
    }

    /// The last node.
    pub fn tail(&self) -> NodeId {
        self.nodes[self.nodes.len() - 1]
    }
}

fn chainable(graph: &JobGraph, node: NodeId) -> Option<NodeId> {
    let mut inputs = graph.inputs(node);
    let edge = inputs.next()?;
    if inputs.next().is_some() {
        return None;
    }
    let from = graph.node(edge.from);
    let to = graph.node(node);
    let single_output = graph.outputs(edge.from).count() == 1;
    (edge.partitioning == Partitioning::Forward
        && edge.side_output.is_none()
        && from.parallelism == to.parallelism
        && single_output)
        .then_some(edge.from)
}

/// Groups the graph's nodes into chains, in node order (upstream chains first).
pub fn build_chains(graph: &JobGraph) -> Vec<ChainSpec> {
    let mut chains: Vec<ChainSpec> = Vec::new();
    let mut chain_of: Vec<Option<usize>> = vec![None; graph.nodes.len()];
    for node in &graph.nodes {
        let joined = chainable(graph, node.id).and_then(|pred| {
            let c = chain_of[pred.0]?;
            (chains[c].tail() == pred).then_some(c)
        });
        match joined {
            Some(c) => {
                chains[c].nodes.push(node.id);
                chain_of[node.id.0] = Some(c);
            }
            None => {
                chain_of[node.id.0] = Some(chains.len());
                chains.push(ChainSpec {
                    nodes: vec![node.id],
                    parallelism: node.parallelism,
                });
            }
        }
    }
    chains
}

/// The index of the chain holding `node`.
pub fn chain_index(chains: &[ChainSpec], node: NodeId) -> Option<usize> {
    chains.iter().position(|c| c.nodes.contains(&node))
}
