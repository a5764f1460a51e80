//! Randomness is injected: core never draws from the OS. The simulation passes its
//! seeded generator in; core's own tests use [`SplitMix64`].

/// A source of uniformly distributed 32-bit values.
pub trait RandomSource {
    fn next_u32(&mut self) -> u32;

    /// Two draws: a seed for a state machine's own generator.
    fn next_seed(&mut self) -> u64 {
        (u64::from(self.next_u32()) << 32) | u64::from(self.next_u32())
    }
}

/// A small deterministic generator (Steele, Lea and Flood's SplitMix64): the same seed
/// gives the same sequence on every machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

impl RandomSource for SplitMix64 {
    fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }
}

/// Replays a fixed list of values, then repeats the last: for tests that need to say
/// exactly which "random" number a rule sees.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scripted {
    values: Vec<u32>,
    next: usize,
}

impl Scripted {
    pub fn new(values: Vec<u32>) -> Scripted {
        assert!(
            !values.is_empty(),
            "a scripted source needs at least one value"
        );
        Scripted { values, next: 0 }
    }
}

impl RandomSource for Scripted {
    fn next_u32(&mut self) -> u32 {
        let value = self.values[self.next.min(self.values.len() - 1)];
        self.next += 1;
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_matches_the_reference_sequence() {
        // First outputs of the reference C implementation for seed 1234567.
        let mut rng = SplitMix64::new(1234567);
        assert_eq!(rng.next_u64(), 6457827717110365317);
        assert_eq!(rng.next_u64(), 3203168211198807973);
        assert_eq!(rng.next_u64(), 9817491932198370423);
    }
}
