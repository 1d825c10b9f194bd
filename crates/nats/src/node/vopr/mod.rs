//! The VOPR: a deterministic simulation of the whole node, seeded and in virtual time
//! (TigerBeetle's "Viewstamped Operation Replicator", FoundationDB's simulation). It drives the
//! real [`Node`](super::Node) and the real routing core over a simulated disk (slow and failed
//! `fdatasync`s, a crash at any point with a torn tail, recovery through the real
//! `Engine::open`), a simulated NATS (delays and reordering across subjects, core messages lost
//! while the engine's connection is down, JetStream redelivery and duplicate deliveries, acks
//! that fail or never come back, an events stream that is unavailable for a while or restarts
//! and forgets its old message ids) and clients speaking the wire contract, with the engine's process
//! crashing and restarting.
//!
//! As things leave the node and after every step it checks: nothing is replied, acknowledged,
//! offered, published to the events stream or read back before the log is durable up to what
//! it depends on; after any crash every acknowledged command's events are in the log as
//! acknowledged and every acknowledged contact was created exactly once; a repeated key gets
//! the first reply within the window; the events stream is the log's prefix in order, each
//! event as the log has it; the node's state is the log's replay. Once the faults stop, the
//! world must settle, and the events stream must then hold exactly the log.
//!
//! A failure names its seed; `SWITCHBOARD_SEED=<n>` replays that seed and
//! `SWITCHBOARD_SEEDS=<n>` runs seeds `0..n` (200 by default, in two halves run side by side):
//!
//! ```text
//! SWITCHBOARD_SEED=17 cargo test -p switchboard-nats --lib node::vopr
//! SWITCHBOARD_SEEDS=10000 cargo test --release -p switchboard-nats --lib node::vopr
//! ```

mod check;
mod clients;
mod disk;
mod world;

use check::Violation;
use world::{Rules, World};

/// Seeds run by default (CI).
const SEEDS_DEFAULT: u64 = 200;

/// Steps with faults and new work.
const STEPS_FAULTY: u32 = 1_200;

/// Bound on the steps after the faults stop, for the world to settle.
const STEPS_QUIET_MAX: u32 = 20_000;

/// Runs one seed: faulty steps, then quiet ones until the world settles.
fn run(seed: u64, rules: Rules) -> Result<(), Violation> {
    let mut world = World::new(seed, rules);
    for _ in 0..STEPS_FAULTY {
        world.step()?;
    }
    world.calm();
    for _ in 0..STEPS_QUIET_MAX {
        world.step()?;
        if world.settled() {
            return world.check_end();
        }
        // Nothing to do until the next timer, answer or sync: go there.
        if let Some(next) = world.next_happening() {
            world.now = world.now.max(next);
        }
    }
    Err(Violation::NotConverged {
        detail: world.stuck(),
    })
}

/// The seeds to run: `SWITCHBOARD_SEED` alone, or `0..SWITCHBOARD_SEEDS` (default
/// [`SEEDS_DEFAULT`]).
fn seeds() -> std::ops::Range<u64> {
    let var = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    match var("SWITCHBOARD_SEED") {
        Some(seed) => seed..seed + 1,
        None => 0..var("SWITCHBOARD_SEEDS").unwrap_or(SEEDS_DEFAULT),
    }
}

/// Runs the seeds of `seeds()` that fall in `half` (0 or 1 of two), failing on the first
/// violation with its seed.
fn run_half(half: u64, rules: Rules) {
    for seed in seeds().filter(|seed| seeds().count() == 1 || seed % 2 == half) {
        if let Err(violation) = run(seed, rules) {
            panic!("seed {seed}: {violation:?}; replay with SWITCHBOARD_SEED={seed}");
        }
    }
}

const RULES: Rules = Rules {
    legacy_feed: false,
    across_restarts: true,
    restore_receipts: true,
};

#[test]
fn the_node_keeps_its_promises_whatever_the_faults_even_seeds() {
    run_half(0, RULES);
}

#[test]
fn the_node_keeps_its_promises_whatever_the_faults_odd_seeds() {
    run_half(1, RULES);
}

/// The events feed's rules before `EventsFeed` (republish only what failed; resume after the
/// stream's last message) put the stream out of order or leave a gap: the simulation must see
/// it within a few seeds, or it would not see it in the rules in use either.
#[test]
fn the_simulation_finds_the_old_feeds_lost_and_reordered_events() {
    let legacy = Rules {
        legacy_feed: true,
        across_restarts: false,
        restore_receipts: true,
    };
    let found = (0..20).find_map(|seed| run(seed, legacy).err().map(|v| (seed, v)));
    match found {
        Some((_, Violation::Stream { .. } | Violation::Missing { .. })) => {}
        other => panic!("the old feed's defect was not found in seeds 0..20: {other:?}"),
    }
}

/// A node that keeps its idempotency window in memory only (as before receipts) answers a key
/// repeated after a restart with a new decision (`duplicate_contact`, say) instead of the first
/// reply: the simulation must see it within a few seeds.
#[test]
fn the_simulation_finds_replies_forgotten_across_a_restart() {
    let forgetful = Rules {
        restore_receipts: false,
        ..RULES
    };
    let found = (0..20).find_map(|seed| run(seed, forgetful).err().map(|v| (seed, v)));
    match found {
        Some((
            _,
            Violation::Repeat {
                across_restart: true,
                ..
            },
        )) => {}
        other => panic!("a forgotten reply was not found in seeds 0..20: {other:?}"),
    }
}
