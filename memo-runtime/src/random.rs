//! A small per-thread random number generator for TTL jitter (wyrand), seeded from std's
//! per-process random hash keys. Jitter needs spread, not cryptographic strength.

use std::cell::Cell;
use std::hash::{BuildHasher, RandomState};

thread_local! {
    static STATE: Cell<u64> = Cell::new(RandomState::new().hash_one(std::thread::current().id()) | 1);
}

fn next() -> u64 {
    STATE.with(|s| {
        let next = s.get().wrapping_add(0xa076_1d64_78bd_642f);
        s.set(next);
        let t = u128::from(next) * u128::from(next ^ 0xe703_7ed1_a0b4_28db);
        ((t >> 64) as u64) ^ (t as u64)
    })
}

/// A uniform random number in `(0, 1]` (never 0, so its logarithm is finite).
pub(crate) fn unit() -> f64 {
    ((next() >> 11) + 1) as f64 / (1u64 << 53) as f64
}

/// A uniform random integer in `0..=max`.
pub(crate) fn up_to(max: u64) -> u64 {
    if max == 0 {
        return 0;
    }
    let r = next();
    if max == u64::MAX {
        r
    } else {
        // Lemire's multiply-shift: unbiased enough for jitter, no division.
        ((u128::from(r) * u128::from(max + 1)) >> 64) as u64
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn stays_within_bounds_and_spreads() {
        let mut seen = [false; 11];
        for _ in 0..10_000 {
            let v = super::up_to(10);
            assert!(v <= 10);
            seen[v as usize] = true;
        }
        assert!(seen.iter().all(|s| *s), "every value in 0..=10 drawn: {seen:?}");
        assert_eq!(super::up_to(0), 0);
    }

    #[test]
    fn unit_draws_stay_in_the_half_open_interval() {
        let draws: Vec<f64> = (0..10_000).map(|_| super::unit()).collect();
        assert!(draws.iter().all(|u| *u > 0.0 && *u <= 1.0));
        let mean = draws.iter().sum::<f64>() / draws.len() as f64;
        assert!((mean - 0.5).abs() < 0.02, "{mean}");
    }
}
