//! Memory per queued contact and per logged-in agent in the real routing core, counted by a
//! counting global allocator (`stats_alloc`): the bytes the [`Router`]'s state holds live
//! (state, indexes, timers), not the allocator's own overhead; the process's resident memory is
//! printed beside it for a sense of that overhead.
//!
//! The centre: `AGENTS` agents log in with 8 skills each out of 200, a language for one in five,
//! phone 1 / chat 2 / email 3 (as `benches/core_routing.rs`), then all say ready; then `QUEUED`
//! phone, chat and email contacts arrive for skills nobody has, so every one of them waits. Each
//! contact is a typical one off the wire: an id, a service, a customer reference, one skill
//! requirement, a language for one in ten. Events are drained and dropped as the engine does
//! once they are durable.
//!
//! Run: `cargo bench --bench memory` (a few seconds; prints one table and a JSON line).
//! `SWITCHBOARD_BENCH_AGENTS` and `SWITCHBOARD_BENCH_QUEUED` change the sizes.

use std::alloc::System;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use stats_alloc::{INSTRUMENTED_SYSTEM, StatsAlloc};
use switchboard_core::{
    Channel, Command, NewContact, Router, RoutingConfig, SkillRequirement, Timestamp,
};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

mod centre;

use centre::{LANGUAGES, SEED, level, skill};

/// Bytes allocated and not yet freed, process-wide.
fn live_bytes() -> i128 {
    let stats = GLOBAL.stats();
    stats.bytes_allocated as i128 - stats.bytes_deallocated as i128
        + stats.bytes_reallocated as i128
}

/// The process's resident memory in bytes (`VmRSS`), where Linux tells it.
fn resident_bytes() -> Option<i128> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: i128 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

fn size(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Centre {
    router: Router,
    now: Timestamp,
    rng: ChaCha8Rng,
}

impl Centre {
    fn run(&mut self, command: Command) {
        self.now = self.now + Duration::from_millis(1);
        let handled = self.router.handle_command(command, self.now);
        assert!(handled.is_ok(), "{handled:?}");
        self.router.drain_events().for_each(drop);
    }

    fn log_in(&mut self, a: usize) {
        let login = centre::random_agent(&mut self.rng, a);
        self.run(Command::LoginAgent(Box::new(login)));
    }

    /// A waiting contact: it needs one of 50 skills nobody has.
    fn queue(&mut self, n: usize) {
        let service = format!("unstaffed_{}", self.rng.random_range(0..50));
        let channel = [Channel::Phone, Channel::Chat, Channel::Email][n % 3];
        let mut contact = NewContact::routine(&format!("call-{n:08}"), channel, &service);
        contact.skills = vec![SkillRequirement {
            skill: service.as_str().into(),
            min_level: level(self.rng.random_range(1..=3)),
        }];
        contact.customer = Some(format!("cust-{:07}", self.rng.random_range(0..1_000_000)).into());
        if self.rng.random_bool(0.1) {
            contact.language = Some(skill(self.rng.random_range(0..LANGUAGES)).into());
        }
        self.run(Command::CreateContact(Box::new(contact)));
    }
}

#[expect(
    clippy::cast_precision_loss,
    reason = "byte counts far below 2^52 printed as figures"
)]
fn main() {
    let agents = size("SWITCHBOARD_BENCH_AGENTS", 10_000);
    let queued = size("SWITCHBOARD_BENCH_QUEUED", 100_000);
    let mut centre = Centre {
        router: Router::new(RoutingConfig::default()).expect("the default config is valid"),
        now: Timestamp::from_millis(1_700_000_000_000),
        rng: ChaCha8Rng::seed_from_u64(SEED),
    };
    let (heap0, rss0) = (live_bytes(), resident_bytes());
    for a in 0..agents {
        centre.log_in(a);
    }
    let (heap1, rss1) = (live_bytes(), resident_bytes());
    for a in 0..agents {
        centre.run(Command::MakeReady {
            agent: format!("agent{a}").into(),
        });
    }
    let (heap2, rss2) = (live_bytes(), resident_bytes());
    for n in 0..queued {
        centre.queue(n);
    }
    let (heap3, rss3) = (live_bytes(), resident_bytes());
    assert_eq!(
        centre.router.state().contacts().count(),
        queued,
        "every contact waits"
    );

    let per = |from: i128, to: i128, count: usize| (to - from) as f64 / count.max(1) as f64;
    let rss_per = |from: Option<i128>, to: Option<i128>, count: usize| {
        from.zip(to).map(|(a, b)| per(a, b, count))
    };
    let agent_logged_in = per(heap0, heap1, agents);
    let agent_ready = per(heap0, heap2, agents);
    let contact = per(heap2, heap3, queued);
    let show = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.0}"));
    println!("memory in the routing core: {agents} agents, {queued} queued contacts");
    println!(
        "{:<36} {:>12} {:>12} {:>10}",
        "", "heap B each", "RSS B each", "target"
    );
    println!(
        "{:<36} {:>12.0} {:>12} {:>10}",
        "logged-in agent (not ready)",
        agent_logged_in,
        show(rss_per(rss0, rss1, agents)),
        "4096"
    );
    println!(
        "{:<36} {:>12.0} {:>12} {:>10}",
        "logged-in agent (ready)",
        agent_ready,
        show(rss_per(rss0, rss2, agents)),
        "4096"
    );
    println!(
        "{:<36} {:>12.0} {:>12} {:>10}",
        "queued contact",
        contact,
        show(rss_per(rss2, rss3, queued)),
        "2048"
    );
    println!(
        "{{\"agents\":{agents},\"queued\":{queued},\"bytes_per_agent\":{agent_ready:.0},\"bytes_per_agent_not_ready\":{agent_logged_in:.0},\"bytes_per_queued_contact\":{contact:.0},\"rss_bytes_per_queued_contact\":{}}}",
        show(rss_per(rss2, rss3, queued))
    );
    drop(centre);
}
