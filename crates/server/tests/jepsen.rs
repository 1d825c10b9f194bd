//! The proof of cluster mode (issue 16), Jepsen-style, on loopback: three clustered
//! nats-servers and two `switchboard serve` engines in cluster mode on one routing domain, under
//! continuous load (contacts created by request and through the durable intake, each with an
//! idempotency key; agents who log in, accept, complete and go ready again), while a seeded
//! nemesis, in turn, SIGKILLs the leader engine (and starts it again as a standby), pauses it
//! (SIGSTOP) past the lease's TTL and resumes it (the zombie leader, whose appends must be
//! fenced), slows a server's disk, and restarts a nats-server (SIGKILL, then start; the next
//! fault, a kill, then meets groups still electing their leaders). The slow disk stops the log
//! stream's leader gracefully and starts it under `strace`, which delays every fsync by a seeded
//! 5, 10 or 20 ms (nats-server syncs each stored message with `fsync`), moves the log stream's
//! leadership back to it (a stepdown naming it), keeps it so while a seeded 150–300 more
//! commands are acknowledged, and stops it gracefully and starts it plainly (needs `strace` on
//! the PATH: without it the fault is passed over, said in the output, unless
//! `SWITCHBOARD_REQUIRE_STRACE` is set, as in CI). Then a checker reads the final log from
//! JetStream and the clients' records and checks that:
//! - the hash chain verifies;
//! - every acknowledged command's effects are in the log exactly once;
//! - no contact was ever offered to two agents at once;
//! - every intake message JetStream acknowledged, during a failover too, was routed;
//! - the zombie's appends were fenced (counted from the engines' `stopped serving` lines);
//! - the events stream, fed by whichever engine led, holds the log's events: message `k` is
//!   event `k`, of the log's type, none missing or repeated.
//!
//! An engine that exits on its own (rather than standing by again) is started again before the
//! next fault, as its supervisor (systemd, compose) would, and named in the figures.
//!
//! It prints its seed (`SWITCHBOARD_SEED=<n>` replays the nemesis's choices) and the failover
//! times seen by the clients (p50, p99) and reported by the engines; each failover with its wall
//! clock time and its two phases: until the lease was taken (the first write a watch on the
//! lease key saw) and from then until a query was answered; for each slow disk, the delay, the
//! syncs it delayed and the creates' latency meanwhile, against the latency while the nemesis was
//! idle. `SWITCHBOARD_JEPSEN_KILLS` sets the number of faults (default 6: two kills, two pauses,
//! a slow disk and a restart, CI's short form);
//! `SWITCHBOARD_JEPSEN_LOGS=<dir>` keeps the engines' and the nats-servers' logs there, and
//! `SWITCHBOARD_JEPSEN_RUST_LOG` sets the engines' log filter (e.g.
//! `info,switchboard_nats::cluster=debug`).

#[path = "jepsen/checker.rs"]
mod checker;
mod common;
#[path = "jepsen/engines.rs"]
mod engines;
#[path = "jepsen/load.rs"]
mod load;
#[path = "jepsen/slow_disk.rs"]
mod slow_disk;

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use switchboard_natsd::NatsCluster;

use engines::Engines;
use load::Ledger;

/// The routing domain under test.
pub(crate) const PREFIX: &str = "jepsen";

/// The faults the nemesis does, in turn.
#[derive(Debug, Clone, Copy)]
enum Fault {
    KillLeader,
    PauseLeader,
    RestartNats,
    SlowDisk,
}

/// In this order, so that a kill follows each nats-server crash: the kill then meets groups still
/// electing their leaders, the failover's worst case (BENCHMARKS.md).
const FAULTS: [Fault; 4] = [
    Fault::KillLeader,
    Fault::PauseLeader,
    Fault::SlowDisk,
    Fault::RestartNats,
];

/// One failover as the clients saw it.
#[derive(Debug, Clone)]
struct Failover {
    /// The fault and the engine it hit, e.g. `engine-1 killed`.
    what: String,
    /// From the fault to the first answered query (the clients' view of a takeover).
    served: Duration,
    /// From the fault to the first write of the lease seen after it (the lease taken), by whom.
    lease: Option<(Duration, String)>,
}

impl std::fmt::Display for Failover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: served again after {:.2} s",
            self.what,
            self.served.as_secs_f64()
        )?;
        match &self.lease {
            Some((after, holder)) => write!(
                f,
                " (lease taken by {holder} after {:.2} s, serving {:.2} s later)",
                after.as_secs_f64(),
                self.served.saturating_sub(*after).as_secs_f64()
            ),
            None => write!(f, " (no lease write seen)"),
        }
    }
}

/// What the run needs at hand to do a fault and time it.
struct Run<'a> {
    rt: &'a tokio::runtime::Runtime,
    client: &'a async_nats::Client,
    writes: &'a load::LeaseWrites,
    seed: u64,
}

impl Run<'_> {
    /// The failover since `started`, printed with the wall-clock time of the fault.
    fn failover(&self, what: String, started: Instant, wall: f64) -> Failover {
        let failover = Failover {
            what,
            served: started.elapsed(),
            lease: self.writes.first_after(started),
        };
        println!("jepsen: at {wall:.3} (unix s) {failover}");
        failover
    }
}

/// The wall-clock time, in seconds since the Unix epoch (to match the engines' and servers' logs).
fn wall() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// What the nemesis saw.
#[derive(Debug, Default)]
struct Nemesis {
    /// Each leader fault's failover.
    failovers: Vec<Failover>,
    kills: usize,
    pauses: usize,
    /// Engines that exited on their own (a supervisor's restart brought them back).
    exits: Vec<String>,
    restarts: usize,
    /// What each slow disk did.
    slow_disks: Vec<slow_disk::SlowDisk>,
    /// Slow disks whose server did not catch up (report healthy) within the start's bound.
    slow_disks_not_caught_up: usize,
}

#[test]
fn cluster_mode_keeps_every_acknowledged_command_through_kills_pauses_and_restarts() {
    let seed: u64 = std::env::var("SWITCHBOARD_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    let faults: usize = std::env::var("SWITCHBOARD_JEPSEN_KILLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(6);
    println!("jepsen: seed {seed} (SWITCHBOARD_SEED={seed} replays it), {faults} faults");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // A server started on a slow disk reports healthy only once it has caught up: 45 s.
    let mut cluster = NatsCluster::builder()
        .ready_timeout(Duration::from_secs(45))
        .start()
        .expect("a three-node NATS cluster");
    let urls = cluster.client_urls();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let client = rt.block_on(load::connect(&urls));
    let mut engines = Engines::start(&urls, 2);
    rt.block_on(load::wait_until_answered(&client, Duration::from_secs(60)))
        .unwrap_or_else(|| panic!("seed {seed}: no engine took the lease and served"));

    let ledger = Arc::new(Ledger::default());
    let writes = Arc::new(load::LeaseWrites::default());
    let watching = load::watch_lease(&rt, &client, &writes);
    let running = load::start(&rt, &client, &ledger);
    let run = Run {
        rt: &rt,
        client: &client,
        writes: &writes,
        seed,
    };
    let mut nemesis = Nemesis::default();
    for n in 0..faults {
        // Some acknowledged load between faults (a seeded amount).
        let more = rng.random_range(20..80);
        settle(&rt, &ledger, &mut engines, &mut nemesis, more)
            .unwrap_or_else(|| panic!("seed {seed}: the load stalled before fault {}", n + 1));
        let fault = FAULTS[n % FAULTS.len()];
        println!("jepsen: fault {} of {faults}: {fault:?}", n + 1);
        ledger.set_failover(true);
        match fault {
            Fault::KillLeader => kill_leader(&run, &mut engines, &mut nemesis),
            Fault::PauseLeader => pause_leader(&run, &mut engines, &mut nemesis),
            Fault::RestartNats => {
                let index = rng.random_range(0..cluster.len());
                println!(
                    "jepsen: at {:.3} (unix s) restarting n{}",
                    wall(),
                    index + 1
                );
                restart_plainly(&run, &mut cluster, index);
                nemesis.restarts += 1;
            }
            Fault::SlowDisk => {
                let mut slowing = Slowing {
                    run: &run,
                    cluster: &mut cluster,
                    engines: &mut engines,
                    ledger: &ledger,
                    nemesis: &mut nemesis,
                };
                slowing.slow_disk(&mut rng);
            }
        }
        ledger.set_failover(false);
    }
    settle(&rt, &ledger, &mut engines, &mut nemesis, 20)
        .unwrap_or_else(|| panic!("seed {seed}: the load stalled after the last fault"));
    rt.block_on(running.stop());
    watching.abort();
    if let Some(dir) = engines::kept_logs() {
        std::fs::write(dir.join("nats-servers.log"), cluster.logs()).expect("keep the logs");
    }

    rt.block_on(checker::wait_for_intake(&client, &ledger, seed));
    let fed = rt.block_on(checker::events_stream(&client, seed));
    engines.stop_all();
    let log = rt.block_on(checker::final_log(&client, seed));
    let fed = fed.check_against(&log, seed);
    println!("jepsen: the events stream holds the log's first {fed} events, each once, in order");
    let fenced = engines.fenced_stops();
    let took = engines.takeovers_ms();
    let report = checker::check(&log, &ledger, seed);
    report_figures(seed, &nemesis, (&report, &ledger), fenced, &took);
    // A resumed zombie is fenced when it appends before it notices its lease is gone, which it
    // does about nine times in ten (BENCHMARKS.md): two pauses make a run without a fenced
    // append rare enough to assert.
    if nemesis.pauses >= 2 {
        assert!(
            fenced > 0,
            "seed {seed}: a paused leader was resumed {} time(s) but no append was fenced",
            nemesis.pauses
        );
    }
}

/// Restarts nats-server `index` plainly (SIGKILL, then start), and waits until the cluster has
/// a meta leader and a query is answered.
fn restart_plainly(run: &Run<'_>, cluster: &mut NatsCluster, index: usize) {
    cluster
        .server_mut(index)
        .restart()
        .expect("restart a nats-server");
    cluster.wait_for_meta_leader().expect("a meta leader again");
    run.rt
        .block_on(load::wait_until_answered(
            run.client,
            Duration::from_secs(60),
        ))
        .unwrap_or_else(|| panic!("seed {}: nothing served after a restart", run.seed));
}

/// What the slow-disk fault works on.
struct Slowing<'a, 'r> {
    run: &'a Run<'r>,
    cluster: &'a mut NatsCluster,
    engines: &'a mut Engines,
    ledger: &'a Ledger,
    nemesis: &'a mut Nemesis,
}

impl Slowing<'_, '_> {
    /// Stops the log stream's leader (else a seeded server) gracefully and starts it again
    /// under strace with a seeded delay per fsync, moves the log stream's leadership back to
    /// it, keeps it slow while a seeded number of commands is acknowledged (the slow period,
    /// measured from a query answered after the move), then stops it gracefully and starts it
    /// plainly. Graceful stops (SIGTERM: nats-server hands its leaderships over) keep the
    /// restarts' own cost out of the slow period; `RestartNats` is the crash.
    fn slow_disk(&mut self, rng: &mut ChaCha8Rng) {
        let (rt, client, seed) = (self.run.rt, self.run.client, self.run.seed);
        if !slow_disk::strace_runs() {
            println!("jepsen: strace does not run here: the slow disk is passed over");
            return;
        }
        let delay_ms = slow_disk::DELAYS_MS[rng.random_range(0..slow_disk::DELAYS_MS.len())];
        let more = rng.random_range(150..300);
        let seeded = rng.random_range(0..self.cluster.len());
        let leader = rt.block_on(slow_disk::log_stream_leader(client));
        let index = leader
            .as_deref()
            .and_then(|name| self.cluster.index_of(name))
            .unwrap_or(seeded);
        let server = format!("n{}", index + 1);
        let summary = tempfile::NamedTempFile::new().expect("strace's summary file");
        println!(
            "jepsen: at {:.3} (unix s) restarting {server} (log stream leader: {leader:?}) with a \
             slow disk, {delay_ms} ms per fsync, for {more} commands",
            wall()
        );
        let nats = self.cluster.server_mut(index);
        nats.stop().expect("stop a nats-server");
        let slowed = nats.restart_wrapped(&switchboard_natsd::slow_disk_wrapper(
            Duration::from_millis(delay_ms),
            summary.path(),
        ));
        // A replica on a slow disk may not catch up with what it missed while it was down (it
        // reports healthy only once current): then the fault ends there, the server plain again.
        if let Err(error) = slowed {
            println!(
                "jepsen: at {:.3} (unix s) {server} on a slow disk was not healthy (caught up) in \
                 time; started plainly: {}",
                wall(),
                error.to_string().lines().next().unwrap_or_default()
            );
            restart_plainly(self.run, self.cluster, index);
            self.nemesis.slow_disks_not_caught_up += 1;
            return;
        }
        self.cluster
            .wait_for_meta_leader()
            .expect("a meta leader again");
        let moved = rt.block_on(async {
            let moved = slow_disk::lead_log_stream(client, &server, Duration::from_secs(20)).await;
            load::wait_until_answered(client, Duration::from_secs(60)).await;
            moved
        });
        let (started, stops_before) = (Instant::now(), self.engines.stops());
        settle(rt, self.ledger, self.engines, self.nemesis, more)
            .unwrap_or_else(|| panic!("seed {seed}: the load stalled on a slow disk"));
        let led_log = rt.block_on(slow_disk::log_stream_leader(client)).as_deref() == Some(&server);
        let (period, stops) = (started.elapsed(), self.engines.stops() - stops_before);
        let latencies = self.ledger.create_latencies(started, Instant::now());
        self.cluster
            .server_mut(index)
            .stop()
            .expect("stop the slow nats-server");
        restart_plainly(self.run, self.cluster, index);
        let slowed = slow_disk::SlowDisk {
            server,
            led_log: moved && led_log,
            delay_ms,
            period,
            acknowledged: more,
            syncs: slow_disk::syncs_counted(summary.path()),
            latencies,
            stops,
        };
        println!("jepsen: at {:.3} (unix s) {slowed}", wall());
        self.nemesis.slow_disks.push(slowed);
    }
}

/// Waits (at most 60 s) until `more` further commands are acknowledged, starting again, as a
/// supervisor would, any engine that exited on its own meanwhile.
fn settle(
    rt: &tokio::runtime::Runtime,
    ledger: &Ledger,
    engines: &mut Engines,
    nemesis: &mut Nemesis,
    more: usize,
) -> Option<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let target = ledger.acknowledged_so_far() + more;
    loop {
        for (id, last) in engines.revive_exited() {
            println!("jepsen: {id} had exited on its own and was started again; it said: {last}");
            nemesis.exits.push(id);
        }
        let left = target.saturating_sub(ledger.acknowledged_so_far());
        if left == 0 {
            return Some(());
        }
        if Instant::now() > deadline {
            return None;
        }
        let _ = rt.block_on(ledger.wait_for_more(left, Duration::from_secs(2)));
    }
}

/// SIGKILLs the leader, starts it again as a standby, and times the takeover.
fn kill_leader(run: &Run<'_>, engines: &mut Engines, nemesis: &mut Nemesis) {
    let (rt, client, seed) = (run.rt, run.client, run.seed);
    let leader = rt
        .block_on(load::wait_for_holder(client, Duration::from_secs(60)))
        .unwrap_or_else(|| panic!("seed {seed}: nobody holds the lease"));
    let (started, at) = (Instant::now(), wall());
    engines.kill(&leader);
    engines.restart(&leader);
    rt.block_on(load::wait_until_answered(client, Duration::from_secs(60)))
        .unwrap_or_else(|| panic!("seed {seed}: no takeover after {leader} was killed"));
    let failover = run.failover(format!("{leader} killed"), started, at);
    nemesis.failovers.push(failover);
    nemesis.kills += 1;
}

/// SIGSTOPs the leader until another engine holds the lease and serves, then resumes it (the
/// zombie), and waits until it has stopped serving.
fn pause_leader(run: &Run<'_>, engines: &mut Engines, nemesis: &mut Nemesis) {
    let (rt, client, seed) = (run.rt, run.client, run.seed);
    let leader = rt
        .block_on(load::wait_for_holder(client, Duration::from_secs(60)))
        .unwrap_or_else(|| panic!("seed {seed}: nobody holds the lease"));
    let stops_before = engines.stops_of(&leader);
    let (started, at) = (Instant::now(), wall());
    engines.pause(&leader);
    rt.block_on(async {
        load::wait_for_holder_other_than(client, &leader, Duration::from_secs(60)).await?;
        load::wait_until_answered(client, Duration::from_secs(60)).await
    })
    .unwrap_or_else(|| panic!("seed {seed}: no takeover while {leader} was paused"));
    let failover = run.failover(format!("{leader} paused"), started, at);
    nemesis.failovers.push(failover);
    engines.resume(&leader);
    engines
        .wait_for_stops(&leader, stops_before + 1, Duration::from_secs(60))
        .unwrap_or_else(|| panic!("seed {seed}: the resumed zombie {leader} did not stop serving"));
    nemesis.pauses += 1;
}

/// The figures, printed for BENCHMARKS.md.
fn report_figures(
    seed: u64,
    nemesis: &Nemesis,
    (report, ledger): (&checker::Report, &Ledger),
    fenced: usize,
    took: &[u64],
) {
    let mut times: Vec<Duration> = nemesis.failovers.iter().map(|f| f.served).collect();
    times.sort();
    let at = |percent: usize| {
        times
            .get((times.len() * percent).div_ceil(100).saturating_sub(1))
            .map_or(0.0, Duration::as_secs_f64)
    };
    println!(
        "jepsen: seed {seed}: {} kills, {} pauses, {} nats restarts; failover seen by clients \
         p50 {:.2} s, p99 {:.2} s, max {:.2} s over {}; engines' takeovers (ms) {took:?}; \
         {fenced} fenced stop(s); engines that exited on their own: {:?}",
        nemesis.kills,
        nemesis.pauses,
        nemesis.restarts,
        at(50),
        at(99),
        times.last().map_or(0.0, Duration::as_secs_f64),
        times.len(),
        nemesis.exits
    );
    let all: Vec<String> = times
        .iter()
        .map(|t| format!("{:.2}", t.as_secs_f64()))
        .collect();
    println!(
        "jepsen: failovers seen by clients, sorted (s): {}",
        all.join(" ")
    );
    // The target (issue 16): the lease's TTL plus 1 s. Each one over it, with its phases.
    let target = Duration::from_secs(engines::LEASE_TTL_SECS + 1);
    for slow in nemesis.failovers.iter().filter(|f| f.served > target) {
        println!("jepsen: over the TTL plus 1 s: {slow}");
    }
    let quiet = ledger.quiet_create_latencies();
    println!(
        "jepsen: creates by request while the nemesis was idle: p50 {} ms, p99 {} ms over {}",
        slow_disk::percentile(&quiet, 50).as_millis(),
        slow_disk::percentile(&quiet, 99).as_millis(),
        quiet.len()
    );
    for slowed in &nemesis.slow_disks {
        println!("jepsen: slow disk: {slowed}");
    }
    if nemesis.slow_disks_not_caught_up > 0 {
        println!(
            "jepsen: slow disks whose server did not catch up in time: {}",
            nemesis.slow_disks_not_caught_up
        );
    }
    println!("jepsen: {report}");
}
