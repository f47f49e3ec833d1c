//! The seeded key streams the caches are replayed on.

/// A small seeded generator (wyrand): the same seed gives every contender the same stream.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0xa076_1d64_78bd_642f);
        let t = u128::from(self.0) * u128::from(self.0 ^ 0xe703_7ed1_a0b4_28db);
        ((t >> 64) as u64) ^ (t as u64)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Scatters a rank over the key space (splitmix64's finalizer, a bijection): keys arrive in no
/// order a map could exploit, and popular keys are not neighbours.
pub fn scatter(rank: u64) -> u64 {
    let mut z = rank.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// `len` requests over `keys` keys whose popularity follows Zipf's law with exponent `s`:
/// the key of rank `r` (from 1) is asked with probability proportional to `1 / r^s`.
pub fn zipf(s: f64, keys: u64, len: usize, rng: &mut Rng) -> Vec<u64> {
    let mut cdf = Vec::with_capacity(keys as usize);
    let mut sum = 0.0;
    for rank in 1..=keys {
        sum += 1.0 / (rank as f64).powf(s);
        cdf.push(sum);
    }
    (0..len)
        .map(|_| {
            let u = rng.unit() * sum;
            let rank = cdf.partition_point(|&c| c < u) as u64;
            scatter(rank)
        })
        .collect()
}

/// `stream` with `scans` runs of `scan_len` keys seen once and never again, spread evenly
/// through it (a batch job walking a table, a crawler).
pub fn with_scans(stream: Vec<u64>, scans: usize, scan_len: u64) -> Vec<u64> {
    let every = stream.len() / (scans + 1);
    let mut out = Vec::with_capacity(stream.len() + scans * scan_len as usize);
    let mut next_scan = 0u64;
    for (i, key) in stream.into_iter().enumerate() {
        if i > 0 && i % every == 0 && next_scan < scans as u64 * scan_len {
            // One-time keys live above the Zipf ranks' range of ranks.
            out.extend((next_scan..next_scan + scan_len).map(|k| scatter(1 << 40 | k)));
            next_scan += scan_len;
        }
        out.push(key);
    }
    out
}

/// `len` requests walking `keys` keys in a loop (a periodic job over a working set a little
/// larger than the cache).
pub fn looping(keys: u64, len: usize) -> Vec<u64> {
    (0..len as u64).map(|i| scatter(i % keys)).collect()
}
