//! The coin flip behind client-side sampling.
//!
//! Sampling exists to make a hot metric cheap, so the decision must cost less
//! than the work it saves: no lock, no atomic shared between threads, no
//! allocation. Each thread keeps its own xorshift64* state (Marsaglia's
//! xorshift with Vigna's multiplicative output scramble), seeded on first use
//! from std's per-process random hash keys, the thread's id and the clock.
//! It is not cryptographic and need not be: it only has to be uniform enough
//! that `1/rate` times the sent count estimates the true count.

use std::cell::Cell;
use std::hash::{BuildHasher, Hash, Hasher, RandomState};
use std::time::{SystemTime, UNIX_EPOCH};

thread_local! {
    /// Zero means "not seeded yet": xorshift never produces zero from a
    /// non-zero state, so zero is free to mean that.
    static STATE: Cell<u64> = const { Cell::new(0) };
}

/// Whether a call sampled at `rate` should be sent. Rates of 1 and above
/// always pass; rates that are not above 0 (NaN included) never do.
pub(crate) fn keep(rate: f64) -> bool {
    if rate >= 1.0 {
        return true;
    }
    if rate.is_nan() || rate <= 0.0 {
        return false;
    }
    next_unit() < rate
}

/// A uniform float in `[0, 1)` from the top 53 bits of the next output.
fn next_unit() -> f64 {
    (next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

fn next_u64() -> u64 {
    STATE.with(|state| {
        let mut x = state.get();
        if x == 0 {
            x = seed();
        }
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        state.set(x);
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    })
}

fn seed() -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
    );
    std::thread::current().id().hash(&mut hasher);
    // Never zero, which would be a fixed point of xorshift.
    hasher.finish() | 1
}

#[cfg(test)]
mod tests {
    use super::{keep, next_unit};

    #[test]
    fn extreme_rates_are_decided_without_the_generator() {
        assert!((0..1000).all(|_| keep(1.0)));
        assert!((0..1000).all(|_| keep(7.0)));
        assert!((0..1000).all(|_| !keep(0.0)));
        assert!((0..1000).all(|_| !keep(-1.0)));
        assert!((0..1000).all(|_| !keep(f64::NAN)));
    }

    #[test]
    fn outputs_stay_in_the_unit_interval() {
        assert!((0..100_000)
            .map(|_| next_unit())
            .all(|u| (0.0..1.0).contains(&u)));
    }

    #[test]
    fn kept_fraction_matches_the_rate() {
        // 40,000 draws at 0.25: the standard deviation of the kept count is
        // about 87, so the window below is more than 10 deviations wide.
        let kept = (0..40_000).filter(|_| keep(0.25)).count();
        assert!(
            (9_000..11_000).contains(&kept),
            "kept {kept} of 40000 at rate 0.25"
        );
    }

    #[test]
    fn buckets_are_evenly_filled() {
        let mut buckets = [0u32; 10];
        for _ in 0..100_000 {
            buckets[(next_unit() * 10.0) as usize] += 1;
        }
        // Each bucket expects 10,000 with a deviation of about 95.
        assert!(
            buckets.iter().all(|&n| (9_000..11_000).contains(&n)),
            "{buckets:?}"
        );
    }
}
