//! What the store remembers of keys it no longer holds: a ghost FIFO of recently evicted keys'
//! hashes and a count-min sketch of how often keys missed. Both are kept under the writer lock
//! and made only when the cache first fills, so a cache that never evicts pays for neither.

use std::collections::{HashSet, VecDeque};

use super::super::Hasher;

/// Hashes of keys evicted from the small FIFO without a second request, oldest first: a key
/// asked again while its hash is here may skip the small FIFO. (A hash remembered twice is
/// forgotten when its older copy leaves: a little early, and rare.)
#[derive(Debug)]
pub(super) struct Ghost {
    order: VecDeque<u64>,
    members: HashSet<u64, Hasher>,
    capacity: usize,
}

impl Ghost {
    pub(super) fn new(capacity: usize) -> Self {
        Self { order: VecDeque::new(), members: HashSet::with_hasher(Hasher::default()), capacity }
    }

    pub(super) fn remember(&mut self, hash: u64) {
        self.order.push_back(hash);
        self.members.insert(hash);
        while self.order.len() > self.capacity {
            let Some(old) = self.order.pop_front() else { break };
            self.members.remove(&old);
        }
    }

    pub(super) fn contains(&self, hash: u64) -> bool {
        self.members.contains(&hash)
    }

    pub(super) fn forget(&mut self, hash: u64) {
        self.members.remove(&hash);
    }
}

/// A count-min sketch of 4-bit counters (two to a byte) in four rows, halved every
/// `10 x capacity` additions so that it forgets: TinyLFU's estimate of how often a key missed
/// lately.
#[derive(Debug)]
pub(super) struct Sketch {
    nibbles: Vec<u8>,
    mask: usize,
    added: usize,
    reset_at: usize,
}

impl Sketch {
    pub(super) fn new(capacity: usize) -> Self {
        let width = capacity.saturating_mul(2).next_power_of_two();
        Self { nibbles: vec![0; width * 2], mask: width - 1, added: 0, reset_at: capacity.saturating_mul(10) }
    }

    /// The counter of each row for `hash`.
    fn slots(&self, hash: u64) -> [usize; 4] {
        const SEEDS: [u64; 4] =
            [0x9e37_79b9_7f4a_7c15, 0xbf58_476d_1ce4_e5b9, 0x94d0_49bb_1331_11eb, 0xd6e8_feb8_6659_fd93];
        let width = self.mask + 1;
        std::array::from_fn(|row| {
            let h = (hash ^ SEEDS[row]).wrapping_mul(SEEDS[(row + 1) % 4]);
            row * width + ((h >> 32) as usize & self.mask)
        })
    }

    fn get(&self, slot: usize) -> u8 {
        (self.nibbles[slot / 2] >> (4 * (slot % 2))) & 0xf
    }

    pub(super) fn add(&mut self, hash: u64) {
        for slot in self.slots(hash) {
            if self.get(slot) < 15 {
                self.nibbles[slot / 2] += 1 << (4 * (slot % 2));
            }
        }
        self.added += 1;
        if self.added >= self.reset_at {
            // Halves both nibbles of each byte.
            self.nibbles.iter_mut().for_each(|b| *b = (*b >> 1) & 0x77);
            self.added /= 2;
        }
    }

    pub(super) fn estimate(&self, hash: u64) -> u8 {
        self.slots(hash).iter().map(|&s| self.get(s)).min().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::{Ghost, Sketch};

    #[test]
    fn the_sketch_counts_to_15_and_halves_when_it_resets() {
        let mut sketch = Sketch::new(4);
        for _ in 0..20 {
            sketch.add(7);
        }
        // 20 additions with a reset every 40: no reset yet; the counter saturated at 15.
        assert_eq!(sketch.estimate(7), 15);
        assert_eq!(sketch.estimate(8), 0);
        for _ in 0..20 {
            sketch.add(9);
        }
        assert_eq!(sketch.estimate(7), 7, "halved at the 40th addition");
        assert_eq!(sketch.estimate(9), 7);
    }

    #[test]
    fn the_ghost_forgets_its_oldest_hash_beyond_its_capacity() {
        let mut ghost = Ghost::new(2);
        ghost.remember(1);
        ghost.remember(2);
        ghost.remember(3);
        assert!(!ghost.contains(1));
        assert!(ghost.contains(2) && ghost.contains(3));
        ghost.forget(2);
        assert!(!ghost.contains(2));
    }
}
