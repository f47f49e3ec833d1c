//! Keys for hit benchmarks: warm keys asked in a fixed shuffled order, so that neither the map
//! nor the CPU's prefetcher sees a sequence it could exploit.

/// `0..count` in a fixed shuffled order (xorshift, Fisher-Yates).
pub fn shuffled(count: u64) -> Vec<u64> {
    let mut keys: Vec<u64> = (0..count).collect();
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    for i in (1..keys.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        keys.swap(i, (state % (i as u64 + 1)) as usize);
    }
    keys
}

/// The median of `xs`.
pub fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// Nanoseconds per call of `f`: `passes` passes over `keys`.
#[allow(dead_code, reason = "not every bench times single calls")]
pub fn ns_per_call(keys: &[u64], passes: usize, mut f: impl FnMut(u64)) -> f64 {
    let start = std::time::Instant::now();
    for _ in 0..passes {
        for &k in keys {
            f(std::hint::black_box(k));
        }
    }
    start.elapsed().as_nanos() as f64 / (passes * keys.len()) as f64
}
