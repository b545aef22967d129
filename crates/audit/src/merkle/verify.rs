//! Checking proofs (RFC 9162 §2.1.3.2 and §2.1.4.2). This is what a third party
//! runs with nothing but hashes; it never needs the log.

use super::{Hash, node_hash};

/// Why a proof does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The leaf index is not below the tree size.
    #[error("leaf index {index} is not below the tree size {size}")]
    IndexBeyondSize {
        /// The index given.
        index: u64,
        /// The size given.
        size: u64,
    },
    /// The older tree is larger than the newer one.
    #[error("old size {old} is larger than new size {new}")]
    SizeOrder {
        /// The older size.
        old: u64,
        /// The newer size.
        new: u64,
    },
    /// The proof has the wrong number of hashes for these sizes.
    #[error("the proof has {got} hashes; these sizes need {want}")]
    WrongLength {
        /// Hashes given.
        got: usize,
        /// Hashes the sizes require.
        want: usize,
    },
    /// The proof does not lead to the root given.
    #[error(
        "the proof leads to root {} instead of {}",
        hex::encode(computed),
        hex::encode(expected)
    )]
    RootMismatch {
        /// The root the proof computes.
        computed: Hash,
        /// The root given.
        expected: Hash,
    },
    /// Two trees of the same size with different roots.
    #[error("equal sizes but different roots: the log forked")]
    DifferentRoots,
}

/// Number of hashes in the inclusion proof of `index` in a tree of `size`.
fn inclusion_len(index: u64, size: u64) -> usize {
    // Levels where the paths to `index` and to the last leaf differ are inner
    // nodes; above them, one hash per set bit is on the right border.
    let inner = 64 - (index ^ (size - 1)).leading_zeros();
    let border = index.checked_shr(inner).unwrap_or(0).count_ones();
    (inner + border) as usize
}

/// The path walk shared by both verifications (RFC 9162 §2.1.3.2 step 4 and
/// §2.1.4.2 step 6): `fnode` is the node being proven, `snode` the last node of
/// the tree, both at the level of the first hash. `step(hash, on_left)` is told
/// on which side each hash joins. Fails when the path does not end exactly at
/// the root (the callers check the length first, so this is a second guard).
fn walk(
    mut fnode: u64,
    mut snode: u64,
    path: &[Hash],
    mut step: impl FnMut(&Hash, bool),
) -> Result<(), ()> {
    for p in path {
        if snode == 0 {
            return Err(());
        }
        if fnode & 1 == 1 || fnode == snode {
            step(p, true);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            step(p, false);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(());
    }
    Ok(())
}

/// The root that `proof` leads to from `leaf` at `index` in a tree of `size`.
pub fn root_from_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
) -> Result<Hash, ProofError> {
    if index >= size {
        return Err(ProofError::IndexBeyondSize { index, size });
    }
    let want = inclusion_len(index, size);
    if proof.len() != want {
        return Err(ProofError::WrongLength {
            got: proof.len(),
            want,
        });
    }
    let mut r = *leaf;
    walk(index, size - 1, proof, |p, sibling_on_left| {
        r = if sibling_on_left {
            node_hash(p, &r)
        } else {
            node_hash(&r, p)
        };
    })
    .map_err(|()| ProofError::WrongLength {
        got: proof.len(),
        want,
    })?;
    Ok(r)
}

/// Checks that `leaf` is entry `index` of the tree of `size` entries with `root`.
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    let computed = root_from_inclusion(leaf, index, size, proof)?;
    if &computed != root {
        return Err(ProofError::RootMismatch {
            computed,
            expected: *root,
        });
    }
    Ok(())
}

/// Checks that the tree of `old` entries with `old_root` is a prefix of the tree
/// of `new` entries with `new_root`. Every tree extends the empty tree (with an
/// empty proof); equal sizes need an empty proof and equal roots.
pub fn verify_consistency(
    old: u64,
    new: u64,
    proof: &[Hash],
    old_root: &Hash,
    new_root: &Hash,
) -> Result<(), ProofError> {
    if old > new {
        return Err(ProofError::SizeOrder { old, new });
    }
    if old == new || old == 0 {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength {
                got: proof.len(),
                want: 0,
            });
        }
        if old == new && old_root != new_root {
            return Err(ProofError::DifferentRoots);
        }
        return Ok(());
    }
    // The old tree's last leaf, seen from the new tree: its inclusion path, less
    // the levels below the old tree's largest complete right subtree (their hashes
    // are that subtree's own), is what the proof must hold.
    let shift = old.trailing_zeros();
    let full = inclusion_len(old - 1, new);
    let skipped = shift as usize;
    let seeded = old == 1u64 << shift;
    let want = full - skipped + usize::from(!seeded);
    if proof.len() != want {
        return Err(ProofError::WrongLength {
            got: proof.len(),
            want,
        });
    }
    let (seed, rest) = if seeded {
        (*old_root, proof)
    } else {
        (proof[0], &proof[1..])
    };
    let (mut fr, mut sr) = (seed, seed);
    walk(
        (old - 1) >> shift,
        (new - 1) >> shift,
        rest,
        |c, sibling_on_left| {
            if sibling_on_left {
                fr = node_hash(c, &fr);
                sr = node_hash(c, &sr);
            } else {
                sr = node_hash(&sr, c);
            }
        },
    )
    .map_err(|()| ProofError::WrongLength {
        got: proof.len(),
        want,
    })?;
    if &fr != old_root {
        return Err(ProofError::RootMismatch {
            computed: fr,
            expected: *old_root,
        });
    }
    if &sr != new_root {
        return Err(ProofError::RootMismatch {
            computed: sr,
            expected: *new_root,
        });
    }
    Ok(())
}
