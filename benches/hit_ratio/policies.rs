//! Eviction policies simulated on one thread over a plain map, to choose the L1's policy by its
//! hit ratio before building it concurrently: SIEVE, S3-FIFO and W-TinyLFU, and Belady's
//! optimum (which sees the future) as the ceiling.

use std::collections::{BinaryHeap, HashMap, VecDeque};

/// A policy replayed on a stream: how many of its requests it answers from the cache.
pub trait Policy {
    fn hits(&mut self, stream: &[u64]) -> u64;
}

const NIL: u32 = u32::MAX;

/// A doubly linked list of keys in a slab: O(1) push at the head, unlink, and walk.
struct List {
    nodes: Vec<Node>,
    free: Vec<u32>,
    head: u32,
    tail: u32,
    len: usize,
}

#[derive(Clone, Copy)]
struct Node {
    key: u64,
    prev: u32,
    next: u32,
    /// SIEVE's visited bit, or the segment a W-TinyLFU entry sits in.
    mark: u8,
}

impl List {
    fn new() -> Self {
        Self { nodes: Vec::new(), free: Vec::new(), head: NIL, tail: NIL, len: 0 }
    }

    fn push_head(&mut self, key: u64, mark: u8) -> u32 {
        let node = Node { key, prev: NIL, next: self.head, mark };
        let i = match self.free.pop() {
            Some(i) => {
                self.nodes[i as usize] = node;
                i
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        };
        if self.head != NIL {
            self.nodes[self.head as usize].prev = i;
        }
        self.head = i;
        if self.tail == NIL {
            self.tail = i;
        }
        self.len += 1;
        i
    }

    fn unlink(&mut self, i: u32) -> u64 {
        let Node { key, prev, next, .. } = self.nodes[i as usize];
        if prev == NIL {
            self.head = next
        } else {
            self.nodes[prev as usize].next = next
        }
        if next == NIL {
            self.tail = prev
        } else {
            self.nodes[next as usize].prev = prev
        }
        self.free.push(i);
        self.len -= 1;
        key
    }
}

/// SIEVE (Zhang et al., NSDI 2024): a FIFO with a visited bit and a hand that walks from the
/// oldest entry, sparing visited ones (clearing the bit) and evicting the first unvisited.
pub struct Sieve {
    capacity: usize,
    list: List,
    index: HashMap<u64, u32>,
    hand: u32,
}

impl Sieve {
    pub fn new(capacity: usize) -> Self {
        Self { capacity, list: List::new(), index: HashMap::new(), hand: NIL }
    }

    fn evict(&mut self) {
        let mut i = if self.hand == NIL { self.list.tail } else { self.hand };
        while self.list.nodes[i as usize].mark == 1 {
            self.list.nodes[i as usize].mark = 0;
            i = self.list.nodes[i as usize].prev;
            if i == NIL {
                i = self.list.tail;
            }
        }
        self.hand = self.list.nodes[i as usize].prev;
        let key = self.list.unlink(i);
        self.index.remove(&key);
    }
}

impl Policy for Sieve {
    fn hits(&mut self, stream: &[u64]) -> u64 {
        let mut hits = 0;
        for &key in stream {
            if let Some(&i) = self.index.get(&key) {
                self.list.nodes[i as usize].mark = 1;
                hits += 1;
                continue;
            }
            if self.list.len >= self.capacity {
                self.evict();
            }
            let i = self.list.push_head(key, 0);
            self.index.insert(key, i);
        }
        hits
    }
}

/// S3-FIFO (Yang et al., SOSP 2023): new keys enter a small FIFO; those asked again while there
/// move to the main FIFO, the rest leave and are remembered in a ghost FIFO of keys, so that a key
/// asked again soon after goes straight to the main FIFO. The main FIFO reinserts an entry while
/// its 2-bit frequency, decremented each pass, is not zero.
///
/// The gated variant adds one rule: a key coming back from the ghost enters a full main FIFO only
/// if a frequency sketch says it missed more often than the entry it would push out (otherwise it
/// starts again in the small FIFO). The sketch counts misses only, so a hit still writes nothing
/// but its entry's frequency, and only while that is below 3.
pub struct S3Fifo {
    small_cap: usize,
    main_cap: usize,
    small: VecDeque<u64>,
    main: VecDeque<u64>,
    /// Resident keys: frequency (0..=3).
    index: HashMap<u64, u8>,
    ghost: VecDeque<(u64, u64)>,
    ghost_cap: usize,
    ghost_index: HashMap<u64, u64>,
    ghost_seq: u64,
    gate: Option<Sketch>,
}

impl S3Fifo {
    /// As published: a small FIFO of a tenth of the capacity, a ghost as large as the main FIFO.
    pub fn new(capacity: usize) -> Self {
        Self::with(capacity, capacity / 10, capacity - capacity / 10, None)
    }

    /// The variant chosen for memo's L1: a small FIFO of 2% of the capacity, a ghost as large as
    /// the cache, and readmission from the ghost gated by a sketch of misses.
    pub fn gated(capacity: usize) -> Self {
        Self::with(capacity, capacity / 50, capacity, Some(Sketch::new(capacity)))
    }

    fn with(capacity: usize, small_cap: usize, ghost_cap: usize, gate: Option<Sketch>) -> Self {
        let small_cap = small_cap.max(1);
        Self {
            small_cap,
            main_cap: capacity - small_cap,
            small: VecDeque::new(),
            main: VecDeque::new(),
            index: HashMap::new(),
            ghost: VecDeque::new(),
            ghost_cap,
            ghost_index: HashMap::new(),
            ghost_seq: 0,
            gate,
        }
    }

    fn remember(&mut self, key: u64) {
        self.ghost_seq += 1;
        self.ghost.push_back((key, self.ghost_seq));
        self.ghost_index.insert(key, self.ghost_seq);
        while self.ghost.len() > self.ghost_cap {
            let (old, seq) = self.ghost.pop_front().expect("ghost over capacity is not empty");
            if self.ghost_index.get(&old) == Some(&seq) {
                self.ghost_index.remove(&old);
            }
        }
    }

    /// Whether a key back from the ghost may enter the main FIFO.
    fn readmit(&self, key: u64) -> bool {
        match (&self.gate, self.main.front()) {
            (Some(sketch), Some(&victim)) if self.main.len() >= self.main_cap => {
                sketch.estimate(key) > sketch.estimate(victim)
            }
            _ => true,
        }
    }

    fn evict_main(&mut self) {
        while let Some(key) = self.main.pop_front() {
            let freq = self.index.get_mut(&key).expect("main key is indexed");
            if *freq > 0 {
                *freq -= 1;
                self.main.push_back(key);
            } else {
                self.index.remove(&key);
                return;
            }
        }
    }

    fn evict_small(&mut self) {
        while let Some(key) = self.small.pop_front() {
            let freq = self.index.get_mut(&key).expect("small key is indexed");
            if *freq > 0 {
                *freq = 0;
                self.main.push_back(key);
                if self.main.len() > self.main_cap {
                    self.evict_main();
                }
            } else {
                self.index.remove(&key);
                self.remember(key);
                return;
            }
        }
    }
}

impl Policy for S3Fifo {
    fn hits(&mut self, stream: &[u64]) -> u64 {
        let mut hits = 0;
        for &key in stream {
            if let Some(freq) = self.index.get_mut(&key) {
                *freq = (*freq + 1).min(3);
                hits += 1;
                continue;
            }
            if let Some(sketch) = &mut self.gate {
                sketch.add(key);
            }
            while self.index.len() >= self.small_cap + self.main_cap {
                if self.small.len() >= self.small_cap { self.evict_small() } else { self.evict_main() }
            }
            if self.ghost_index.contains_key(&key) && self.readmit(key) {
                self.ghost_index.remove(&key);
                self.main.push_back(key);
            } else {
                self.small.push_back(key);
            }
            self.index.insert(key, 0);
        }
        hits
    }
}

/// A count-min sketch of 4-bit counters (four rows), halved every `10 x capacity` increments so
/// that it forgets: TinyLFU's estimate of how often a key was asked recently.
struct Sketch {
    counters: Vec<u8>,
    mask: usize,
    added: usize,
    reset_at: usize,
}

impl Sketch {
    fn new(capacity: usize) -> Self {
        let width = (capacity * 2).next_power_of_two();
        Self { counters: vec![0; width * 4], mask: width - 1, added: 0, reset_at: capacity * 10 }
    }

    fn slots(&self, key: u64) -> [usize; 4] {
        let h = crate::streams::scatter(key);
        let width = self.mask + 1;
        std::array::from_fn(|row| row * width + ((h >> (16 * row)) as usize & self.mask))
    }

    fn add(&mut self, key: u64) {
        for slot in self.slots(key) {
            if self.counters[slot] < 15 {
                self.counters[slot] += 1;
            }
        }
        self.added += 1;
        if self.added >= self.reset_at {
            self.counters.iter_mut().for_each(|c| *c /= 2);
            self.added /= 2;
        }
    }

    fn estimate(&self, key: u64) -> u8 {
        self.slots(key).iter().map(|&s| self.counters[s]).min().unwrap_or(0)
    }
}

const WINDOW: u8 = 0;
const PROBATION: u8 = 1;
const PROTECTED: u8 = 2;

/// W-TinyLFU (Einziger et al., as in Caffeine and moka): new keys enter an LRU window (1% of
/// the capacity); a key leaving the window replaces the main space's LRU victim only if the
/// sketch says it was asked more often. The main space is a segmented LRU: probation (20%) and
/// protected (80%), a hit in probation promoting the key.
pub struct WTinyLfu {
    window_cap: usize,
    protected_cap: usize,
    capacity: usize,
    lists: [List; 3],
    index: HashMap<u64, u32>,
    sketch: Sketch,
}

impl WTinyLfu {
    pub fn new(capacity: usize) -> Self {
        let window_cap = (capacity / 100).max(1);
        let main = capacity - window_cap;
        Self {
            window_cap,
            protected_cap: main * 8 / 10,
            capacity,
            lists: [List::new(), List::new(), List::new()],
            index: HashMap::new(),
            sketch: Sketch::new(capacity),
        }
    }

    fn segment_of(&self, key: u64) -> Option<(u8, u32)> {
        let &slot = self.index.get(&key)?;
        let segment = (slot >> 30) as u8;
        Some((segment, slot & ((1 << 30) - 1)))
    }

    fn push(&mut self, segment: u8, key: u64) {
        let i = self.lists[segment as usize].push_head(key, segment);
        self.index.insert(key, u32::from(segment) << 30 | i);
    }

    fn pop_lru(&mut self, segment: u8) -> Option<u64> {
        let list = &mut self.lists[segment as usize];
        if list.tail == NIL {
            return None;
        }
        let tail = list.tail;
        Some(list.unlink(tail))
    }

    fn len(&self) -> usize {
        self.lists.iter().map(|l| l.len).sum()
    }
}

impl Policy for WTinyLfu {
    fn hits(&mut self, stream: &[u64]) -> u64 {
        let mut hits = 0;
        for &key in stream {
            self.sketch.add(key);
            if let Some((segment, i)) = self.segment_of(key) {
                hits += 1;
                self.lists[segment as usize].unlink(i);
                let to = if segment == WINDOW { WINDOW } else { PROTECTED };
                self.push(to, key);
                if self.lists[PROTECTED as usize].len > self.protected_cap {
                    let demoted = self.pop_lru(PROTECTED).expect("protected over capacity is not empty");
                    self.push(PROBATION, demoted);
                }
                continue;
            }
            self.push(WINDOW, key);
            if self.lists[WINDOW as usize].len > self.window_cap {
                let candidate = self.pop_lru(WINDOW).expect("window over capacity is not empty");
                self.index.remove(&candidate);
                if self.len() < self.capacity {
                    self.push(PROBATION, candidate);
                } else {
                    let victim_index = self.lists[PROBATION as usize].tail;
                    let victim = if victim_index == NIL {
                        self.lists[PROTECTED as usize].nodes[self.lists[PROTECTED as usize].tail as usize].key
                    } else {
                        self.lists[PROBATION as usize].nodes[victim_index as usize].key
                    };
                    if self.sketch.estimate(candidate) > self.sketch.estimate(victim) {
                        let (segment, i) = self.segment_of(victim).expect("victim is indexed");
                        self.lists[segment as usize].unlink(i);
                        self.index.remove(&victim);
                        self.push(PROBATION, candidate);
                    }
                }
            }
        }
        hits
    }
}

/// Belady's optimum: on a miss with the cache full, drop whichever key (the new one included)
/// is next asked furthest in the future. No online policy can do better.
pub struct Belady {
    capacity: usize,
}

impl Belady {
    pub fn new(capacity: usize) -> Self {
        Self { capacity }
    }
}

impl Policy for Belady {
    fn hits(&mut self, stream: &[u64]) -> u64 {
        // next[i]: where stream[i]'s key is asked next (usize::MAX: never).
        let mut next = vec![usize::MAX; stream.len()];
        let mut seen: HashMap<u64, usize> = HashMap::new();
        for (i, &key) in stream.iter().enumerate().rev() {
            if let Some(j) = seen.insert(key, i) {
                next[i] = j;
            }
        }
        drop(seen);
        let mut resident: HashMap<u64, usize> = HashMap::with_capacity(self.capacity);
        // (next use, key), largest first; stale items (not the key's current next use) skipped.
        let mut heap: BinaryHeap<(usize, u64)> = BinaryHeap::new();
        let mut hits = 0;
        for (i, &key) in stream.iter().enumerate() {
            if let Some(at) = resident.get_mut(&key) {
                hits += 1;
                *at = next[i];
                heap.push((next[i], key));
                continue;
            }
            if resident.len() >= self.capacity {
                let furthest = loop {
                    let (at, k) = heap.pop().expect("a full cache has heap items");
                    if resident.get(&k) == Some(&at) {
                        break (at, k);
                    }
                };
                if furthest.0 <= next[i] {
                    // The new key is asked no sooner than anything held: do not keep it.
                    heap.push(furthest);
                    continue;
                }
                resident.remove(&furthest.1);
            }
            resident.insert(key, next[i]);
            heap.push((next[i], key));
        }
        hits
    }
}
