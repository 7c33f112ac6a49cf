//! A small seeded random generator for stress checks: reproducible from its seed, no dependency.

use std::time::{SystemTime, UNIX_EPOCH};

/// xorshift64* (Vigna): plenty for shuffling scripts and picking operations; not for secrets.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
    seed: u64,
}

impl Rng {
    /// The same seed gives the same numbers: a failing stress check prints its seed so the run
    /// can be replayed.
    pub fn seeded(seed: u64) -> Rng {
        Rng {
            // Zero is xorshift's one fixed point; mixing the seed keeps small seeds apart.
            state: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
            seed,
        }
    }

    /// A seed from the clock: each run explores other schedules.
    pub fn from_clock() -> Rng {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x5EED);
        Rng::seeded(nanos)
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

#[cfg(test)]
mod tests {
    use super::Rng;

    #[test]
    fn same_seed_same_numbers_and_below_stays_below() {
        let mut a = Rng::seeded(42);
        let mut b = Rng::seeded(42);
        for _ in 0..100 {
            let x = a.below(7);
            assert_eq!(x, b.below(7));
            assert!(x < 7);
        }
        assert_ne!(Rng::seeded(1).next_u64(), Rng::seeded(2).next_u64());
    }
}
