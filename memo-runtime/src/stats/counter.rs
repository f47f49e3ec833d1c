//! Counters that many threads bump without sharing a cache line.
//!
//! A hit or a miss must not write memory that other cores read or write, or two threads
//! calling the same cache slow each other down. The call counter is therefore split into cache-line-sized
//! stripes; each thread leases a stripe for its lifetime and is its only writer while fewer
//! than [`STRIPES`] threads hold leases, so it can add with a plain load and store. Threads
//! beyond that share stripes and add atomically.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

pub(crate) const STRIPES: usize = 64;

/// A counter bumped on rare paths (errors, invalidations, refreshes): one shared atomic.
#[derive(Debug, Default)]
pub(crate) struct Counter(AtomicU64);

impl Counter {
    pub(crate) fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

#[repr(align(128))]
#[derive(Default)]
struct Stripe {
    hits: AtomicU64,
    negative_hits: AtomicU64,
    misses: AtomicU64,
    loads: AtomicU64,
}

/// What calls found and did, summed over the stripes.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Calls {
    pub(crate) hits: u64,
    pub(crate) negative_hits: u64,
    pub(crate) misses: u64,
    pub(crate) loads: u64,
}

/// The counts every call bumps (hits, negative hits, misses, loads), striped per thread, so
/// that neither a hit nor a miss writes a line another thread writes.
pub(crate) struct CallCounter {
    stripes: Box<[Stripe; STRIPES]>,
}

impl std::fmt::Debug for CallCounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.get().fmt(f)
    }
}

impl Default for CallCounter {
    fn default() -> Self {
        Self { stripes: Box::new(std::array::from_fn(|_| Stripe::default())) }
    }
}

impl CallCounter {
    /// This thread's stripe and whether it is its only writer.
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn stripe(&self) -> Option<(&Stripe, bool)> {
        let lease = lease();
        // The index is always below STRIPES, a power of two: the mask only spares a check.
        Some((&self.stripes[lease.index % STRIPES], lease.exclusive))
    }

    #[inline]
    pub(crate) fn hit(&self, negative: bool) {
        let Some((stripe, exclusive)) = self.stripe() else { return };
        bump(&stripe.hits, exclusive);
        if negative {
            bump(&stripe.negative_hits, exclusive);
        }
    }

    pub(crate) fn miss(&self) {
        if let Some((stripe, exclusive)) = self.stripe() {
            bump(&stripe.misses, exclusive);
        }
    }

    pub(crate) fn load(&self) {
        if let Some((stripe, exclusive)) = self.stripe() {
            bump(&stripe.loads, exclusive);
        }
    }

    pub(crate) fn get(&self) -> Calls {
        let sum =
            |count: fn(&Stripe) -> &AtomicU64| self.stripes.iter().map(|s| count(s).load(Ordering::Relaxed)).sum();
        Calls {
            hits: sum(|s| &s.hits),
            negative_hits: sum(|s| &s.negative_hits),
            misses: sum(|s| &s.misses),
            loads: sum(|s| &s.loads),
        }
    }
}

#[cfg_attr(not(debug_assertions), inline(always))]
fn bump(cell: &AtomicU64, exclusive: bool) {
    if exclusive {
        // Only this thread writes this stripe: no read-modify-write needed.
        cell.store(cell.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    } else {
        cell.fetch_add(1, Ordering::Relaxed);
    }
}

#[derive(Clone, Copy)]
struct Lease {
    index: usize,
    exclusive: bool,
}

impl Lease {
    /// Packed for [`LEASE`]: 0 is no lease yet, else `index + 1`, with the exclusive bit.
    const EXCLUSIVE: usize = 1 << (usize::BITS - 1);

    fn pack(self) -> usize {
        (self.index + 1) | if self.exclusive { Self::EXCLUSIVE } else { 0 }
    }

    fn unpack(packed: usize) -> Self {
        Self { index: (packed & !Self::EXCLUSIVE) - 1, exclusive: packed & Self::EXCLUSIVE != 0 }
    }
}

/// Which stripes are leased exclusively; a thread gives its stripe back when it exits.
static LEASED: Mutex<[bool; STRIPES]> = Mutex::new([false; STRIPES]);
static SHARED_NEXT: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// This thread's lease, packed. It has no destructor, so a hit reads it with one load and
    /// no check of whether the thread is exiting; [`RELEASE`] gives an exclusive stripe back.
    static LEASE: Cell<usize> = const { Cell::new(0) };
    /// Set when a thread leases a stripe exclusively: returns it when the thread exits.
    static RELEASE: Release = const { Release };
}

struct Release;

impl Drop for Release {
    fn drop(&mut self) {
        let packed = LEASE.with(Cell::get);
        // From now on this thread counts through shared stripes.
        LEASE.with(|lease| lease.set(shared_lease().pack()));
        if packed != 0 {
            let lease = Lease::unpack(packed);
            if lease.exclusive {
                LEASED.lock().unwrap_or_else(PoisonError::into_inner)[lease.index] = false;
            }
        }
    }
}

#[cfg_attr(not(debug_assertions), inline(always))]
fn lease() -> Lease {
    match LEASE.with(Cell::get) {
        0 => acquire(),
        packed => Lease::unpack(packed),
    }
}

#[cold]
fn acquire() -> Lease {
    // Registers the release first: a thread whose destructors already ran cannot register
    // one, and shares stripes instead.
    if RELEASE.try_with(|_| ()).is_err() {
        return shared_lease();
    }
    let mut leased = LEASED.lock().unwrap_or_else(PoisonError::into_inner);
    let lease = match leased.iter().position(|taken| !taken) {
        Some(index) => {
            leased[index] = true;
            Lease { index, exclusive: true }
        }
        None => shared_lease(),
    };
    LEASE.with(|packed| packed.set(lease.pack()));
    lease
}

fn shared_lease() -> Lease {
    let index = (SHARED_NEXT.fetch_add(1, Ordering::Relaxed) as usize) % STRIPES;
    Lease { index, exclusive: false }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Serializes the tests that take many stripes at once.
    static MANY: Mutex<()> = Mutex::new(());

    #[test]
    fn a_thread_gives_its_stripe_back_when_it_exits() {
        let _many = MANY.lock().unwrap_or_else(PoisonError::into_inner);
        let counter = std::sync::Arc::new(CallCounter::default());
        for _ in 0..(STRIPES * 3) {
            let counter = std::sync::Arc::clone(&counter);
            let exclusive = std::thread::spawn(move || {
                counter.hit(false);
                lease().exclusive
            });
            assert!(exclusive.join().unwrap(), "a thread finds a stripe of its own: exiting threads give theirs back");
        }
        assert_eq!(counter.get(), Calls { hits: (STRIPES * 3) as u64, ..Calls::default() });
    }

    #[test]
    fn counts_exactly_across_more_threads_than_stripes() {
        let _many = MANY.lock().unwrap_or_else(PoisonError::into_inner);
        let counter = CallCounter::default();
        std::thread::scope(|s| {
            for t in 0..(STRIPES * 2) {
                let counter = &counter;
                s.spawn(move || {
                    for i in 0..1_000 {
                        counter.hit(i % 4 == 0 && t % 2 == 0);
                        if i % 10 == 0 {
                            counter.miss();
                            counter.load();
                        }
                    }
                });
            }
        });
        let threads = (STRIPES * 2) as u64;
        assert_eq!(
            counter.get(),
            Calls {
                hits: threads * 1_000,
                negative_hits: threads / 2 * 250,
                misses: threads * 100,
                loads: threads * 100
            }
        );
    }
}
