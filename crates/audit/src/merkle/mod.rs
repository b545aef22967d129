//! The RFC 6962 / RFC 9162 Merkle tree over the log's encrypted envelopes.
//!
//! Leaves hash as `SHA-256(0x00 ‖ envelope)`, interior nodes as
//! `SHA-256(0x01 ‖ left ‖ right)`, so a third party holding only envelopes (never a
//! decryption key) can recompute every root and check every proof. Only the hashes
//! of complete subtrees at *tile levels* (8, 16, 24, …) are stored; any other node
//! is folded from at most 128 hashes one tile level below, so a proof over a
//! million entries reads a few thousand hashes instead of every leaf.

mod proof;
mod verify;

pub use proof::{
    NodeSource, ProveError, consistency_proof, inclusion_proof, range_root, subtree_root,
};
pub use verify::{ProofError, root_from_inclusion, verify_consistency, verify_inclusion};

use sha2::{Digest, Sha256};

/// A SHA-256 digest: a leaf hash, a node hash or a tree root.
pub type Hash = [u8; 32];

/// Stored subtree hashes live at levels that are multiples of this.
pub const TILE_HEIGHT: u32 = 8;

/// The hash of a leaf whose data is `data` (the whole envelope).
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(data);
    h.finalize().into()
}

/// The hash of an interior node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The root of the empty tree: `SHA-256("")`.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// A node of a complete subtree: `level` 0 is a leaf; the node covers leaves
/// `[index << level, (index + 1) << level)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Node {
    /// Height above the leaves.
    pub level: u32,
    /// Position among the nodes of that level.
    pub index: u64,
    /// Its hash.
    pub hash: Hash,
}

/// The right edge of a tree (a compact range `[0, size)`): one complete subtree
/// per set bit of `size`, largest first. Appending a leaf is O(log n) and the root
/// is always at hand, which is what the writer needs after every commit.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Frontier {
    size: u64,
    /// Roots of the complete subtrees, left to right (largest first).
    nodes: Vec<Hash>,
}

impl Frontier {
    /// The edge of the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuilds the edge of a tree of `size` leaves from `source`.
    pub fn of_size<S: NodeSource>(size: u64, source: &mut S) -> Result<Self, S::Error> {
        let mut nodes = Vec::with_capacity(size.count_ones() as usize);
        let mut begin = 0u64;
        for level in (0..64u32).rev() {
            if size & (1u64 << level) != 0 {
                nodes.push(subtree_root(source, level, begin >> level)?);
                begin += 1u64 << level;
            }
        }
        Ok(Frontier { size, nodes })
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends a leaf and reports every complete subtree it finished (the leaf
    /// itself first, then each merged ancestor), so the caller can store those at
    /// tile levels.
    pub fn push(&mut self, leaf: Hash, mut finished: impl FnMut(Node)) {
        let index = self.size;
        finished(Node {
            level: 0,
            index,
            hash: leaf,
        });
        let mut hash = leaf;
        let mut level = 0u32;
        // Each trailing one bit of the old size is a complete left sibling.
        while index & (1u64 << level) != 0 {
            let Some(left) = self.nodes.pop() else {
                // The invariant "one node per set bit" makes this unreachable; an
                // empty stack here would only mean a corrupted edge, which we keep
                // rather than panic over.
                break;
            };
            hash = node_hash(&left, &hash);
            level += 1;
            finished(Node {
                level,
                index: index >> level,
                hash,
            });
        }
        self.nodes.push(hash);
        self.size += 1;
    }

    /// The tree's root (`SHA-256("")` when empty).
    pub fn root(&self) -> Hash {
        let mut iter = self.nodes.iter().rev();
        let Some(last) = iter.next() else {
            return empty_root();
        };
        iter.fold(*last, |acc, left| node_hash(left, &acc))
    }
}

/// Whether `level` is a tile level (stored in the database).
pub fn is_tile_level(level: u32) -> bool {
    level > 0 && level.is_multiple_of(TILE_HEIGHT)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference MTH of RFC 6962 §2.1, straight from the definition.
    pub(crate) fn reference_root(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = largest_power_of_two_below(n);
                node_hash(&reference_root(&leaves[..k]), &reference_root(&leaves[k..]))
            }
        }
    }

    fn largest_power_of_two_below(n: usize) -> usize {
        let mut k = 1;
        while k * 2 < n {
            k *= 2;
        }
        k
    }

    #[test]
    fn frontier_root_matches_the_definition_for_every_size_to_300() {
        let leaves: Vec<Hash> = (0..300u32).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let mut f = Frontier::new();
        assert_eq!(f.root(), empty_root());
        for (i, l) in leaves.iter().enumerate() {
            f.push(*l, |_| {});
            assert_eq!(f.root(), reference_root(&leaves[..=i]), "size {}", i + 1);
        }
    }

    #[test]
    fn push_reports_each_finished_subtree_once() {
        let mut f = Frontier::new();
        let mut seen = Vec::new();
        for i in 0..16u32 {
            f.push(leaf_hash(&i.to_be_bytes()), |n| {
                seen.push((n.level, n.index))
            });
        }
        // 16 leaves, 8 + 4 + 2 + 1 interior nodes.
        assert_eq!(seen.len(), 31);
        assert!(seen.contains(&(4, 0)));
        assert!(seen.contains(&(3, 1)));
    }
}
