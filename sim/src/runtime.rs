//! One seeded madsim runtime per fresh OS thread.
//!
//! madsim seeds std's `HashMap` randomness only on a thread that has not built one
//! before, so a second runtime on the same thread could iterate maps in another order
//! (shared/reference/madsim-notes.md). A fresh thread per run keeps one seed, one
//! trajectory; it also lets several seeds run side by side.

use std::future::Future;
use std::panic;
use std::thread;

/// Runs the future that `make` builds on a new madsim runtime seeded with `seed`, on a
/// new OS thread, and returns its output. Time inside is virtual (a sleep of an hour
/// returns at once) and `madsim::rand` draws from the seed. A panic inside is re-raised
/// here, with the seed in the thread's name.
pub fn run_seeded<F, Fut, T>(seed: u64, make: F) -> T
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = T> + 'static,
    T: Send + 'static,
{
    let thread = thread::Builder::new()
        .name(format!("kafkasim seed {seed}"))
        .spawn(move || {
            let runtime =
                madsim::runtime::Runtime::with_seed_and_config(seed, madsim::Config::default());
            runtime.block_on(make())
        })
        .expect("the OS could not start a simulation thread");
    thread
        .join()
        .unwrap_or_else(|panic| panic::resume_unwind(panic))
}
