//! Building inclusion and consistency proofs (RFC 9162 §2.1.3.1 and §2.1.4.1) from
//! whatever holds the hashes: the SQLite store, a bundle in memory, a test vector.

use super::{Hash, TILE_HEIGHT, empty_root, leaf_hash, node_hash};

/// Where proofs get their hashes from.
pub trait NodeSource {
    /// Why a hash could not be read.
    type Error;

    /// The hashes of `count` consecutive complete nodes at `level`, starting at
    /// node `index`. `level` is 0 (leaf hashes) or a tile level (a multiple of
    /// [`TILE_HEIGHT`]); `count` is at most `2^TILE_HEIGHT`.
    fn tile_hashes(&mut self, level: u32, index: u64, count: u64)
    -> Result<Vec<Hash>, Self::Error>;
}

/// Leaf data held in memory is a node source (used for bundles and tests).
impl<T: AsRef<[u8]>> NodeSource for [T] {
    type Error = std::convert::Infallible;

    fn tile_hashes(
        &mut self,
        level: u32,
        index: u64,
        count: u64,
    ) -> Result<Vec<Hash>, Self::Error> {
        let span = 1u64 << level;
        Ok((index..index + count)
            .map(|i| {
                let begin = (i * span) as usize;
                let end = ((i + 1) * span) as usize;
                let leaves: Vec<Hash> = self[begin..end]
                    .iter()
                    .map(|d| leaf_hash(d.as_ref()))
                    .collect();
                fold_perfect(leaves)
            })
            .collect())
    }
}

/// Folds a power-of-two count of sibling hashes into their common root.
fn fold_perfect(mut level: Vec<Hash>) -> Hash {
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| match pair {
                [l, r] => node_hash(l, r),
                [only] => *only,
                _ => empty_root(),
            })
            .collect();
    }
    level.first().copied().unwrap_or_else(empty_root)
}

/// The root of the complete subtree at `level` whose leftmost leaf is
/// `index << level`.
pub fn subtree_root<S: NodeSource + ?Sized>(
    source: &mut S,
    level: u32,
    index: u64,
) -> Result<Hash, S::Error> {
    let base = level - level % TILE_HEIGHT;
    let span = level - base;
    let hashes = source.tile_hashes(base, index << span, 1u64 << span)?;
    Ok(fold_perfect(hashes))
}

/// RFC 6962's MTH of the leaf list `D[begin:end]`.
pub fn range_root<S: NodeSource + ?Sized>(
    source: &mut S,
    begin: u64,
    end: u64,
) -> Result<Hash, S::Error> {
    let n = end - begin;
    if n == 0 {
        return Ok(empty_root());
    }
    if n.is_power_of_two() && begin.is_multiple_of(n) {
        return subtree_root(source, n.trailing_zeros(), begin / n);
    }
    let k = split_point(n);
    let left = range_root(source, begin, begin + k)?;
    let right = range_root(source, begin + k, end)?;
    Ok(node_hash(&left, &right))
}

/// The largest power of two smaller than `n` (`n > 1`): where RFC 6962 splits a
/// list of `n` leaves.
fn split_point(n: u64) -> u64 {
    1u64 << (63 - (n - 1).leading_zeros())
}

/// Why a proof could not be built.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProveError<E> {
    /// Asked to prove a leaf the tree does not have.
    #[error("leaf {index} is not in a tree of {size} entries")]
    IndexOutOfRange {
        /// The leaf asked for.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// A consistency proof from a larger tree to a smaller one.
    #[error("a tree of {old} entries cannot be a prefix of one of {new}")]
    SizeOrder {
        /// The older size.
        old: u64,
        /// The newer size.
        new: u64,
    },
    /// The source failed.
    #[error(transparent)]
    Source(E),
}

/// The audit path of leaf `index` in the tree of the first `size` leaves, from the
/// leaf's sibling upwards (RFC 9162 §2.1.3.1).
pub fn inclusion_proof<S: NodeSource + ?Sized>(
    source: &mut S,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, ProveError<S::Error>> {
    if index >= size {
        return Err(ProveError::IndexOutOfRange { index, size });
    }
    let mut out = Vec::new();
    path(source, index, 0, size, &mut out).map_err(ProveError::Source)?;
    Ok(out)
}

fn path<S: NodeSource + ?Sized>(
    source: &mut S,
    m: u64,
    begin: u64,
    end: u64,
    out: &mut Vec<Hash>,
) -> Result<(), S::Error> {
    let n = end - begin;
    if n <= 1 {
        return Ok(());
    }
    let k = split_point(n);
    if m < k {
        path(source, m, begin, begin + k, out)?;
        out.push(range_root(source, begin + k, end)?);
    } else {
        path(source, m - k, begin + k, end, out)?;
        out.push(range_root(source, begin, begin + k)?);
    }
    Ok(())
}

/// The proof that the tree of the first `old` leaves is a prefix of the tree of
/// the first `new` leaves (RFC 9162 §2.1.4.1). Empty when `old` is 0 or equals
/// `new`.
pub fn consistency_proof<S: NodeSource + ?Sized>(
    source: &mut S,
    old: u64,
    new: u64,
) -> Result<Vec<Hash>, ProveError<S::Error>> {
    if old > new {
        return Err(ProveError::SizeOrder { old, new });
    }
    let mut out = Vec::new();
    if old > 0 && old < new {
        subproof(source, old, 0, new, true, &mut out).map_err(ProveError::Source)?;
    }
    Ok(out)
}

fn subproof<S: NodeSource + ?Sized>(
    source: &mut S,
    m: u64,
    begin: u64,
    end: u64,
    whole: bool,
    out: &mut Vec<Hash>,
) -> Result<(), S::Error> {
    let n = end - begin;
    if m == n {
        if !whole {
            out.push(range_root(source, begin, end)?);
        }
        return Ok(());
    }
    let k = split_point(n);
    if m <= k {
        subproof(source, m, begin, begin + k, whole, out)?;
        out.push(range_root(source, begin + k, end)?);
    } else {
        subproof(source, m - k, begin + k, end, false, out)?;
        out.push(range_root(source, begin, begin + k)?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::tests::reference_root;
    use super::super::{verify_consistency, verify_inclusion};
    use super::*;

    fn leaves(n: u32) -> Vec<Vec<u8>> {
        (0..n).map(|i| i.to_be_bytes().to_vec()).collect()
    }

    #[test]
    fn range_root_matches_the_definition() {
        let mut data = leaves(600);
        let hashes: Vec<Hash> = data.iter().map(|d| leaf_hash(d)).collect();
        for n in [0u64, 1, 2, 3, 255, 256, 257, 511, 512, 513, 600] {
            let got = range_root(data.as_mut_slice(), 0, n).unwrap();
            assert_eq!(got, reference_root(&hashes[..n as usize]), "size {n}");
        }
    }

    #[test]
    fn every_inclusion_proof_of_small_trees_verifies() {
        let mut data = leaves(70);
        for size in 1..=70u64 {
            let root = range_root(data.as_mut_slice(), 0, size).unwrap();
            for index in 0..size {
                let proof = inclusion_proof(data.as_mut_slice(), index, size).unwrap();
                let leaf = leaf_hash(&data[index as usize]);
                verify_inclusion(&leaf, index, size, &proof, &root)
                    .unwrap_or_else(|e| panic!("index {index} size {size}: {e}"));
            }
        }
    }

    #[test]
    fn every_consistency_proof_of_small_trees_verifies() {
        let mut data = leaves(40);
        let roots: Vec<Hash> = (0..=40u64)
            .map(|n| range_root(data.as_mut_slice(), 0, n).unwrap())
            .collect();
        for new in 0..=40u64 {
            for old in 0..=new {
                let proof = consistency_proof(data.as_mut_slice(), old, new).unwrap();
                verify_consistency(old, new, &proof, &roots[old as usize], &roots[new as usize])
                    .unwrap_or_else(|e| panic!("{old} -> {new}: {e}"));
            }
        }
    }

    #[test]
    fn out_of_range_requests_are_errors_not_panics() {
        let mut data = leaves(4);
        assert_eq!(
            inclusion_proof(data.as_mut_slice(), 4, 4),
            Err(ProveError::IndexOutOfRange { index: 4, size: 4 })
        );
        assert_eq!(
            consistency_proof(data.as_mut_slice(), 5, 4),
            Err(ProveError::SizeOrder { old: 5, new: 4 })
        );
    }
}
