//! The simulation's seeded random numbers, handed to core as a [`RandomSource`].

use kafkasim_core::rng::RandomSource;

/// Draws from the running madsim runtime's seeded generator. Use it only inside a
/// simulation (for example within [`crate::runtime::run_seeded`]): outside one there is
/// no seed to draw from, and madsim panics.
#[derive(Clone, Copy, Debug, Default)]
pub struct SimRng;

impl RandomSource for SimRng {
    fn next_u32(&mut self) -> u32 {
        madsim::rand::random()
    }
}
