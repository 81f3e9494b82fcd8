//! A bit-exact port of `java.util.Random`: the JDK's 48-bit linear congruential generator.
//!
//! Beam's Nexmark generator seeds a fresh `java.util.Random` with every event id and draws the
//! event's fields from it, so reproducing Beam's events value for value needs the same
//! generator, including the rejection loop of `nextInt(bound)` and the two-draw `nextDouble`.

const MULTIPLIER: u64 = 0x5_DEEC_E66D;
const ADDEND: u64 = 0xB;
const MASK: u64 = (1 << 48) - 1;

/// `java.util.Random`, reproducing the JDK's output for every seed.
#[derive(Clone, Debug)]
pub struct JavaRandom {
    seed: u64,
}

impl JavaRandom {
    /// `new Random(seed)`: the seed is scrambled with the multiplier as the JDK does.
    #[inline]
    pub fn new(seed: i64) -> Self {
        Self {
            seed: (seed as u64 ^ MULTIPLIER) & MASK,
        }
    }

    /// `next(bits)`: advances the LCG and returns its top `bits` bits as a signed int.
    #[inline]
    fn next(&mut self, bits: u32) -> i32 {
        self.seed = (self.seed.wrapping_mul(MULTIPLIER).wrapping_add(ADDEND)) & MASK;
        (self.seed >> (48 - bits)) as i32
    }

    /// `nextInt()`: a uniform 32-bit int.
    #[inline]
    pub fn next_int(&mut self) -> i32 {
        self.next(32)
    }

    /// `nextInt(bound)`: uniform in `[0, bound)`; `bound` must be positive.
    #[inline]
    pub fn next_int_bounded(&mut self, bound: i32) -> i32 {
        debug_assert!(bound > 0);
        let mut r = self.next(31);
        let m = bound - 1;
        if bound & m == 0 {
            return ((bound as i64 * r as i64) >> 31) as i32;
        }
        let mut u = r;
        loop {
            r = u % bound;
            // Java: `u - r + m < 0` with int overflow, i.e. the draw falls in the last,
            // incomplete block of `bound` values.
            if u.wrapping_sub(r).wrapping_add(m) >= 0 {
                return r;
            }
            u = self.next(31);
        }
    }

    /// `nextInt(bound)` for a bound prepared as a [`Divisor`]: the same value, with the
    /// remainder taken by multiplication instead of a division.
    #[inline]
    pub fn next_int_by(&mut self, d: &Divisor) -> i32 {
        let bound = d.bound as i32;
        let mut r = self.next(31);
        let m = bound - 1;
        if bound & m == 0 {
            return ((bound as i64 * r as i64) >> 31) as i32;
        }
        let mut u = r;
        loop {
            r = d.rem(u as u32) as i32;
            if u.wrapping_sub(r).wrapping_add(m) >= 0 {
                return r;
            }
            u = self.next(31);
        }
    }

    /// `nextLong()`: two 32-bit draws, high word first (signed addition as in Java).
    #[inline]
    pub fn next_long(&mut self) -> i64 {
        let hi = (self.next(32) as i64) << 32;
        hi.wrapping_add(self.next(32) as i64)
    }

    /// `nextDouble()`: 53 random bits scaled into `[0, 1)`.
    #[inline]
    pub fn next_double(&mut self) -> f64 {
        let hi = (self.next(26) as i64) << 27;
        let v = hi + self.next(27) as i64;
        v as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Beam's `LongGenerator.nextLong(random, n)`: `nextInt(n)` when `n` fits an int, otherwise
    /// the (skewed) `abs(nextLong() % n)`.
    #[inline]
    pub fn next_long_bounded(&mut self, n: i64) -> i64 {
        if n < i32::MAX as i64 {
            self.next_int_bounded(n as i32) as i64
        } else {
            (self.next_long() % n).wrapping_abs()
        }
    }
}

/// A positive `i32` bound with its precomputed reciprocal, for remainders without division
/// (Lemire's "fastmod": exact for every 32-bit numerator).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Divisor {
    bound: u32,
    magic: u64,
}

impl Divisor {
    /// Prepares `bound` (clamped to at least 1).
    pub fn new(bound: i32) -> Self {
        let bound = bound.max(1) as u32;
        Self {
            bound,
            magic: (u64::MAX / bound as u64).wrapping_add(1),
        }
    }

    /// The bound.
    #[inline]
    pub fn bound(&self) -> i32 {
        self.bound as i32
    }

    /// `n % bound`.
    #[inline]
    pub fn rem(&self, n: u32) -> u32 {
        let low = self.magic.wrapping_mul(n as u64);
        ((low as u128 * self.bound as u128) >> 64) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Reference values printed by a JDK (java.util.Random is specified bit for bit in its
    // javadoc, so these hold for every conforming JVM).
    #[test]
    fn matches_jdk_for_seed_42() {
        let mut r = JavaRandom::new(42);
        assert_eq!(r.next_int(), -1_170_105_035);
        assert_eq!(r.next_int(), 234_785_527);
        let mut r = JavaRandom::new(42);
        assert_eq!(r.next_int_bounded(10), 0);
        assert_eq!(r.next_int_bounded(10), 3);
        let mut r = JavaRandom::new(42);
        assert_eq!(r.next_long(), -5_025_562_857_975_149_833);
        let mut r = JavaRandom::new(42);
        assert!((r.next_double() - 0.7275636800328681).abs() < 1e-18);
    }

    #[test]
    fn seed_zero_and_power_of_two_bounds() {
        let mut r = JavaRandom::new(0);
        assert_eq!(r.next_int(), -1_155_484_576);
        let mut r = JavaRandom::new(0);
        assert_eq!(r.next_int_bounded(100), 60);
        let mut r = JavaRandom::new(0);
        // nextInt(2): the top bit of next(31).
        let v = r.next_int_bounded(2);
        assert!(v == 0 || v == 1);
    }

    #[test]
    fn divisor_remainders_and_draws_match() {
        let mut r = JavaRandom::new(9);
        for bound in [1, 2, 3, 7, 26, 28, 111, 1010, 10_000, 65_537, i32::MAX] {
            let d = Divisor::new(bound);
            for n in [0u32, 1, 25, 26, 27, u32::MAX, i32::MAX as u32, 123_456_789] {
                assert_eq!(d.rem(n), n % bound as u32, "{n} % {bound}");
            }
            for _ in 0..2000 {
                let n = r.next_int() as u32;
                assert_eq!(d.rem(n), n % bound as u32);
            }
            let (mut a, mut b) = (JavaRandom::new(bound as i64), JavaRandom::new(bound as i64));
            for _ in 0..2000 {
                assert_eq!(a.next_int_by(&d), b.next_int_bounded(bound));
            }
        }
    }

    #[test]
    fn bounded_draws_stay_in_range() {
        let mut r = JavaRandom::new(7);
        for bound in [1, 2, 3, 13, 26, 1000, 10_000, i32::MAX] {
            for _ in 0..1000 {
                let v = r.next_int_bounded(bound);
                assert!((0..bound).contains(&v));
            }
        }
        for n in [5i64, 3_000_000_000, i64::MAX] {
            for _ in 0..1000 {
                let v = r.next_long_bounded(n);
                assert!((0..n).contains(&v));
            }
        }
    }
}
