//! Named, seeded random-number streams (DESIGN.md principle 3).
//!
//! Every purpose that needs randomness (each workload, each fake-cloud fault source, naming…)
//! gets its own stream, derived from the scenario seed **and the stream's name** only. Adding,
//! removing or reordering other streams never changes a stream's values, so adding a fault does
//! not move the job arrivals.
//!
//! Generator: [`ChaCha12Rng`] from `rand_chacha`, whose output for a given seed is value-stable
//! (the crate documents it as a reproducible generator, unlike `rand::rngs::StdRng`, which may
//! change algorithm between `rand` releases). Twelve rounds is the round count `rand` itself
//! settled on as the default strength; speed is irrelevant here (a few draws per event), so the
//! faster ChaCha8 buys nothing and ChaCha20 costs for no benefit.
//!
//! Seed derivation (our own, stable across Rust versions, unlike std's `DefaultHasher`):
//! FNV-1a 64 over the 8 little-endian bytes of the scenario seed, a 0xFF separator byte (never
//! in UTF-8 text), and the UTF-8 bytes of the name; the result seeds a SplitMix64 sequence
//! whose next four outputs, little-endian, form the 32-byte ChaCha key.

pub mod dist;

use rand_chacha::ChaCha12Rng;
use rand_chacha::rand_core::SeedableRng;

/// The generator every stream uses.
pub type SimRng = ChaCha12Rng;

/// A factory of named streams for one scenario seed. Cheap to copy; holds no state, so asking
/// twice for the same name gives two generators at the same starting point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RngStreams {
    seed: u64,
}

impl RngStreams {
    /// Streams for the scenario seed `seed`.
    pub fn new(seed: u64) -> Self {
        RngStreams { seed }
    }

    /// The scenario seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// A fresh generator for the stream called `name` (e.g. `"workload[0]/arrivals"`).
    pub fn stream(&self, name: &str) -> SimRng {
        SimRng::from_seed(derive_key(self.seed, name))
    }
}

/// A generator derived from `parent`'s ChaCha key and `name`, independent of how far
/// `parent` has been used and of every other name: FNV-1a 64 over the parent's 32 key bytes, a
/// 0xFF separator and the UTF-8 bytes of `name`, expanded to a key by SplitMix64 as in
/// [`derive_key`]. For components that only hold their own generator (the fake cloud's
/// per-pool stockout episodes, `fake_cloud::stockouts`) and need more named streams from it.
pub fn substream(parent: &SimRng, name: &str) -> SimRng {
    let bytes = parent
        .get_seed()
        .into_iter()
        .chain(std::iter::once(0xFF))
        .chain(name.bytes());
    SimRng::from_seed(expand_key(fnv1a64(bytes)))
}

/// FNV-1a 64-bit offset basis and prime (the published FNV constants).
const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

fn fnv1a64(bytes: impl IntoIterator<Item = u8>) -> u64 {
    bytes.into_iter().fold(FNV_OFFSET, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(FNV_PRIME)
    })
}

/// One SplitMix64 step: advances `state` and returns the mixed output.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The 32-byte ChaCha key of stream `name` under scenario seed `seed` (see the module docs).
pub fn derive_key(seed: u64, name: &str) -> [u8; 32] {
    let bytes = seed
        .to_le_bytes()
        .into_iter()
        .chain(std::iter::once(0xFF))
        .chain(name.bytes());
    expand_key(fnv1a64(bytes))
}

/// The next four SplitMix64 outputs from `state`, little-endian: a 32-byte ChaCha key.
fn expand_key(mut state: u64) -> [u8; 32] {
    let mut key = [0u8; 32];
    for chunk in key.chunks_exact_mut(8) {
        chunk.copy_from_slice(&splitmix64(&mut state).to_le_bytes());
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngCore;

    fn first_u64s(rng: &mut SimRng, n: usize) -> Vec<u64> {
        (0..n).map(|_| rng.next_u64()).collect()
    }

    #[test]
    fn fnv_and_splitmix_match_their_published_reference_values() {
        // FNV-1a 64 of "" is the offset basis; of "a" is 0xaf63dc4c8601ec8c (FNV reference).
        assert_eq!(fnv1a64(*b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(*b"a"), 0xaf63_dc4c_8601_ec8c);
        // SplitMix64 from state 0: first output 0xe220a8397b1dcdaf (reference sequence).
        let mut s = 0u64;
        assert_eq!(splitmix64(&mut s), 0xe220_a839_7b1d_cdaf);
    }

    #[test]
    fn same_seed_and_name_give_the_same_stream() {
        let s = RngStreams::new(42);
        assert_eq!(
            first_u64s(&mut s.stream("workload[0]"), 8),
            first_u64s(&mut s.stream("workload[0]"), 8)
        );
    }

    #[test]
    fn streams_differ_by_name_and_by_seed() {
        let a = first_u64s(&mut RngStreams::new(42).stream("workload[0]"), 4);
        let b = first_u64s(&mut RngStreams::new(42).stream("workload[1]"), 4);
        let c = first_u64s(&mut RngStreams::new(43).stream("workload[0]"), 4);
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_ne!(b, c);
    }

    #[test]
    fn stream_values_are_pinned() {
        // Regression pin of the generator AND the name → key derivation: these literals were
        // produced by this implementation (ChaCha12, FNV-1a + SplitMix64 key) and must never
        // change, or every saved scenario result changes with them.
        let mut rng = RngStreams::new(42).stream("workload[0]");
        assert_eq!(first_u64s(&mut rng, 3), PINNED_42_WORKLOAD0);
        let key = derive_key(42, "workload[0]");
        assert_eq!(&key[..8], &PINNED_KEY_PREFIX);
    }

    #[test]
    fn substreams_depend_on_the_parent_key_and_name_only() {
        let parent = RngStreams::new(42).stream("cloud");
        let mut used = parent.clone();
        let _ = first_u64s(&mut used, 5);
        let a = first_u64s(&mut substream(&parent, "pool a"), 4);
        assert_eq!(a, first_u64s(&mut substream(&used, "pool a"), 4));
        assert_ne!(a, first_u64s(&mut substream(&parent, "pool b"), 4));
        let other = RngStreams::new(43).stream("cloud");
        assert_ne!(a, first_u64s(&mut substream(&other, "pool a"), 4));
        assert_ne!(a, first_u64s(&mut parent.clone(), 4));
    }

    const PINNED_42_WORKLOAD0: [u64; 3] = [
        6_838_697_935_579_552_741,
        13_411_951_292_236_317_876,
        5_770_236_124_770_744_979,
    ];
    // Cross-checked with an independent Python implementation of FNV-1a 64 + SplitMix64.
    const PINNED_KEY_PREFIX: [u8; 8] = [96, 91, 20, 104, 120, 96, 199, 18];
}
