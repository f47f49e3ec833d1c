//! A lock-free log-linear histogram of load durations in microseconds.
//!
//! Values are bucketed by their power of two and then by the next three bits, so a bucket's
//! width is at most 1/8 of its lower bound; percentiles report the bucket's upper bound.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::LoadTimes;

const SUB_BITS: u32 = 3;
const SUB: usize = 1 << SUB_BITS;
const BUCKETS: usize = (64 - SUB_BITS as usize + 1) * SUB;

#[derive(Debug)]
pub(crate) struct LoadHistogram {
    buckets: Box<[AtomicU64]>,
    max_micros: AtomicU64,
}

impl Default for LoadHistogram {
    fn default() -> Self {
        Self { buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(), max_micros: AtomicU64::new(0) }
    }
}

fn bucket_of(v: u64) -> usize {
    if v < SUB as u64 {
        return v as usize;
    }
    let exp = 63 - v.leading_zeros(); // >= SUB_BITS
    let shift = exp - SUB_BITS;
    let sub = ((v >> shift) as usize) & (SUB - 1);
    ((shift + 1) as usize) * SUB + sub
}

fn upper_bound_of(bucket: usize) -> u64 {
    if bucket < SUB {
        return bucket as u64;
    }
    let shift = (bucket / SUB - 1) as u32;
    let sub = (bucket % SUB) as u64;
    let low = (SUB as u64 + sub) << shift;
    low.saturating_add((1u64 << shift) - 1)
}

impl LoadHistogram {
    pub(crate) fn record(&self, took: Duration) {
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        if let Some(b) = self.buckets.get(bucket_of(micros)) {
            b.fetch_add(1, Ordering::Relaxed);
        }
        // Read first: most loads set no new maximum, and a read shares the line.
        if micros > self.max_micros.load(Ordering::Relaxed) {
            self.max_micros.fetch_max(micros, Ordering::Relaxed);
        }
    }

    pub(crate) fn snapshot(&self) -> LoadTimes {
        let counts: Vec<u64> = self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).collect();
        let total: u64 = counts.iter().sum();
        let max = self.max_micros.load(Ordering::Relaxed);
        let pct = |q: f64| -> Duration {
            if total == 0 {
                return Duration::ZERO;
            }
            let rank = ((total as f64) * q).ceil().max(1.0) as u64;
            let mut seen = 0;
            for (i, c) in counts.iter().enumerate() {
                seen += c;
                if seen >= rank {
                    return Duration::from_micros(upper_bound_of(i).min(max));
                }
            }
            Duration::from_micros(max)
        };
        LoadTimes { p50: pct(0.50), p90: pct(0.90), p99: pct(0.99), max: Duration::from_micros(max) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_bound_their_values_within_an_eighth() {
        for v in [0u64, 1, 7, 8, 9, 15, 16, 100, 1_000, 123_456, 1 << 40, u64::MAX] {
            let b = bucket_of(v);
            let upper = upper_bound_of(b);
            assert!(upper >= v, "{v} in bucket {b} with upper {upper}");
            assert!(upper - v <= v / 8 + 1, "{v}: upper {upper} too loose");
            assert!(b < BUCKETS);
        }
    }

    #[test]
    fn percentiles_follow_the_recorded_distribution() {
        let h = LoadHistogram::default();
        for ms in 1..=100 {
            h.record(Duration::from_millis(ms));
        }
        let t = h.snapshot();
        let near = |d: Duration, ms: u64| {
            let got = d.as_secs_f64() * 1000.0;
            (got - ms as f64).abs() <= ms as f64 / 8.0 + 0.01
        };
        assert!(near(t.p50, 50), "{t:?}");
        assert!(near(t.p90, 90), "{t:?}");
        assert!(near(t.p99, 99), "{t:?}");
        assert_eq!(t.max, Duration::from_millis(100));
    }
}
