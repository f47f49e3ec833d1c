//! A Zipf-distributed key sampler and a small fast random number generator.

/// xorshift64*: fast, good enough to pick requests.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// Ranks `1..=n` drawn with probability proportional to `1 / rank^s`, mapped to ids by a fixed
/// permutation so that popular items are spread over the id space (and over categories).
#[derive(Debug, Clone)]
pub struct Zipf {
    cdf: Vec<f64>,
    /// Coprime with the number of items: multiplying by it permutes them.
    step: u64,
}

impl Zipf {
    pub fn new(n: u64, s: f64) -> Self {
        let mut total = 0.0;
        let mut cdf: Vec<f64> = (1..=n.max(1))
            .map(|rank| {
                total += 1.0 / (rank as f64).powf(s);
                total
            })
            .collect();
        for p in &mut cdf {
            *p /= total;
        }
        let n = cdf.len() as u64;
        let mut step = 7_919 % n;
        while gcd(step, n) != 1 {
            step += 1;
        }
        Self { cdf, step }
    }

    /// An id in `1..=n`.
    pub fn sample(&self, rng: &mut Rng) -> i64 {
        let n = self.cdf.len() as u64;
        let rank = self.cdf.partition_point(|&p| p < rng.unit()) as u64;
        ((rank.min(n - 1) * self.step) % n) as i64 + 1
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}
