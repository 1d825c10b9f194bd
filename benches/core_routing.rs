//! Benchmarks of routing decisions in the core, at contact-centre scale.
//!
//! Two decisions are measured, each as one command through the real [`Router`]:
//! - **contact arrives**: a phone contact is created while N agents are logged in (a tenth of
//!   them ready) and Q contacts wait for skills nobody has; the router finds the longest-idle
//!   eligible agent and makes the offer. (Untimed between iterations: the contact is abandoned,
//!   which withdraws the offer and leaves the state as it was.)
//! - **agent becomes ready**: an agent says ready while Q contacts wait in many queues; the router
//!   finds the first contact in queue order the agent is eligible for and makes the offer.
//!   (Untimed: the agent goes not ready, which puts the contact back with its place kept.)
//!
//! Besides criterion's statistics, each case prints p50/p99/p99.9 from an HDR histogram of
//! single-command timings, the figures BENCHMARKS.md reports.
//!
//! Run: `cargo bench --bench core_routing`. Set `SWITCHBOARD_BENCH_QUICK=1` for a short run.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use hdrhistogram::Histogram;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use switchboard_core::{
    Channel, Command, Level, NewContact, Router, RoutingConfig, SkillRequirement, Timestamp,
};

mod centre;

use centre::{LANGUAGES, SEED, SKILLS, level, skill};

/// A centre of `agents` agents (8 random skills each, a language for one in five) and `queued`
/// waiting contacts spread over many queues, built through the public commands.
struct Scenario {
    router: Router,
    now: Timestamp,
    rng: ChaCha8Rng,
    next_contact: u64,
}

impl Scenario {
    /// `unstaffed`: the waiting contacts need skills no agent has (so they stay waiting however
    /// many agents are ready); otherwise they need the agents' own skills.
    fn new(agents: usize, queued: usize, unstaffed: bool) -> Self {
        let mut s = Self {
            router: Router::new(RoutingConfig::default()).expect("default config is valid"),
            now: Timestamp::from_millis(1_700_000_000_000),
            rng: ChaCha8Rng::seed_from_u64(SEED),
            next_contact: 0,
        };
        for a in 0..agents {
            let login = centre::random_agent(&mut s.rng, a);
            s.run(Command::LoginAgent(Box::new(login)));
        }
        // Contacts arrive while nobody is ready, so they all wait.
        for _ in 0..queued {
            let mut contact = s.random_contact();
            if unstaffed {
                let service = format!("unstaffed_{}", s.rng.random_range(0..50));
                contact.skills = vec![SkillRequirement {
                    skill: service.as_str().into(),
                    min_level: Level::MIN,
                }];
                contact.service = service.into();
            }
            s.run(Command::CreateContact(Box::new(contact)));
        }
        s
    }

    fn random_contact(&mut self) -> NewContact {
        let service = self.rng.random_range(LANGUAGES..SKILLS);
        let channel = [Channel::Phone, Channel::Chat, Channel::Email][self.rng.random_range(0..3)];
        let id = format!("contact{}", self.next_contact);
        self.next_contact += 1;
        let mut contact = NewContact::routine(&id, channel, &skill(service));
        contact.skills = vec![SkillRequirement {
            skill: skill(service).into(),
            min_level: level(self.rng.random_range(1..=5)),
        }];
        if self.rng.random_bool(0.1) {
            contact.language = Some(skill(self.rng.random_range(0..LANGUAGES)).into());
        }
        contact
    }

    fn run(&mut self, command: Command) {
        self.now = self.now + Duration::from_millis(1);
        let _ = self.router.handle_command(command, self.now);
        self.router.drain_events().for_each(drop);
    }

    /// Runs a command and says whether it made an offer: the benchmarks check once that what
    /// they time is a real routing decision, not a command that found nothing to do.
    fn makes_offer(&mut self, command: Command) -> bool {
        self.now = self.now + Duration::from_millis(1);
        let _ = self.router.handle_command(command, self.now);
        self.router
            .drain_events()
            .any(|e| matches!(e.kind, switchboard_core::EventKind::OfferMade(_)))
    }

    /// Times one command; events are drained outside the timing.
    fn timed(&mut self, command: Command) -> Duration {
        self.now = self.now + Duration::from_millis(1);
        let start = Instant::now();
        let result = self.router.handle_command(black_box(command), self.now);
        let elapsed = start.elapsed();
        black_box(&result);
        self.router.drain_events().for_each(drop);
        elapsed
    }

    /// Makes the first `count` agents ready; each takes work if they can.
    fn make_ready(&mut self, count: usize) {
        for a in 0..count {
            self.run(Command::MakeReady {
                agent: format!("agent{a}").into(),
            });
        }
    }
}

/// One arrival: the contact needs a skill the free agents have.
fn arrival(s: &mut Scenario, service: &str) -> Duration {
    let id = format!("arrival{}", s.next_contact);
    s.next_contact += 1;
    let contact = NewContact::routine(&id, Channel::Phone, service);
    let elapsed = s.timed(Command::CreateContact(Box::new(contact)));
    s.run(Command::AbandonContact { contact: id.into() });
    elapsed
}

/// The skill most agents among the first `count` share, so arrivals find someone.
fn common_skill(s: &Scenario, count: usize) -> String {
    let mut counts = vec![0_u32; SKILLS];
    for a in 0..count {
        if let Some(agent) = s.router.state().agent(&format!("agent{a}")) {
            for &(skill_no, _) in &agent.skills {
                let name = s.router.state().skill_name(skill_no);
                if let Some(i) = (0..SKILLS).find(|&i| skill(i) == name.as_str()) {
                    counts[i] += 1;
                }
            }
        }
    }
    let best = (LANGUAGES..SKILLS)
        .max_by_key(|&i| counts[i])
        .unwrap_or(LANGUAGES);
    skill(best)
}

/// One agent readying: the agent takes the best waiting contact it can, then goes not ready
/// (untimed), which puts the contact back with its place kept.
fn readying(s: &mut Scenario, agent: &str) -> Duration {
    let elapsed = s.timed(Command::MakeReady {
        agent: agent.into(),
    });
    s.run(Command::MakeNotReady {
        agent: agent.into(),
        reason: "bench".into(),
    });
    elapsed
}

fn quick() -> bool {
    std::env::var_os("SWITCHBOARD_BENCH_QUICK").is_some()
}

fn percentiles(name: &str, samples: impl Iterator<Item = Duration>) {
    let mut histogram =
        Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).expect("valid bounds");
    for sample in samples {
        let nanos = u64::try_from(sample.as_nanos()).unwrap_or(u64::MAX).max(1);
        histogram.saturating_record(nanos);
    }
    println!(
        "latency {name}: n={} p50={:.2}us p99={:.2}us p99.9={:.2}us max={:.2}us",
        histogram.len(),
        histogram.value_at_quantile(0.50) as f64 / 1e3,
        histogram.value_at_quantile(0.99) as f64 / 1e3,
        histogram.value_at_quantile(0.999) as f64 / 1e3,
        histogram.max() as f64 / 1e3,
    );
}

fn cases() -> Vec<(usize, usize)> {
    if quick() {
        vec![(1_000, 1_000), (10_000, 50_000)]
    } else {
        vec![
            (1_000, 0),
            (1_000, 50_000),
            (10_000, 0),
            (10_000, 50_000),
            (50_000, 50_000),
        ]
    }
}

fn bench_routing(c: &mut Criterion) {
    let samples = if quick() { 2_000 } else { 20_000 };
    let mut group = c.benchmark_group("routing");
    group.sample_size(if quick() { 10 } else { 30 });
    group.measurement_time(Duration::from_secs(if quick() { 1 } else { 4 }));
    group.warm_up_time(Duration::from_millis(500));
    for (agents, queued) in cases() {
        let label = format!("{agents}_agents_{queued}_queued");

        // Contact arrives: a tenth of the agents are ready and free.
        let mut s = Scenario::new(agents, queued, true);
        s.make_ready(agents / 10);
        let service = common_skill(&s, agents / 10);
        let probe = NewContact::routine("probe", Channel::Phone, &service);
        assert!(
            s.makes_offer(Command::CreateContact(Box::new(probe))),
            "arrivals must be offered"
        );
        s.run(Command::AbandonContact {
            contact: "probe".into(),
        });
        percentiles(
            &format!("contact_arrives/{label}"),
            (0..samples).map(|_| arrival(&mut s, &service)),
        );
        group.bench_function(BenchmarkId::new("contact_arrives", &label), |b| {
            b.iter_custom(|iters| (0..iters).map(|_| arrival(&mut s, &service)).sum());
        });

        // Agent becomes ready: agents who found no work stay not ready and try again.
        if queued > 0 {
            let mut s = Scenario::new(agents, queued, false);
            // The first agent whose readiness takes a waiting contact.
            let agent = (0..agents)
                .map(|a| format!("agent{a}"))
                .find(|a| {
                    let offered = s.makes_offer(Command::MakeReady {
                        agent: a.as_str().into(),
                    });
                    s.run(Command::MakeNotReady {
                        agent: a.as_str().into(),
                        reason: "bench".into(),
                    });
                    offered
                })
                .expect("some agent can take a waiting contact");
            let agent = agent.as_str();
            percentiles(
                &format!("agent_ready/{label}"),
                (0..samples).map(|_| readying(&mut s, agent)),
            );
            group.bench_function(BenchmarkId::new("agent_ready", &label), |b| {
                b.iter_custom(|iters| (0..iters).map(|_| readying(&mut s, agent)).sum());
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench_routing);
criterion_main!(benches);
