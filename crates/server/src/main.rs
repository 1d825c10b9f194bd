//! The `switchboard` command line: one binary for operators and integrators.
//!
//! Subcommands: `scenario` (a built-in council morning played through the durable engine),
//! `audit verify`, `audit show` and `audit open` (the audit trail), `replay` (rebuild the state
//! from the log), `report` (management information from the log), `simulate` (the
//! discrete-event simulator over the real core) and `staffing` (Erlang staffing). The NATS
//! service (`serve`, `demo`) joins them as it lands.

use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

/// Writes a line to stdout, returning the error (a closed pipe, say) instead of panicking.
macro_rules! say {
    ($($arg:tt)*) => {
        std::io::Write::write_fmt(&mut std::io::stdout(), format_args!("{}\n", format_args!($($arg)*)))?
    };
}

/// The engine's hot path allocates on one thread (encoding replies, offers and events in the
/// loop) and frees on another (the NATS connection's writer): glibc's malloc serialises that on
/// an arena lock. mimalloc frees across threads without one; see BENCHMARKS.md for the figures.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod audit;
mod calendar;
mod config;
mod demo;
mod loadgen;
mod logsource;
mod privacy;
mod progress;
mod replay;
mod report;
mod scenario;
mod serve;
mod simulate;
mod staffing;

/// Switchboard: an event-sourced omnichannel contact-routing engine for public-sector contact
/// centres.
#[derive(Debug, Parser)]
#[command(name = "switchboard", version)]
struct Cli {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Debug, Subcommand)]
enum Commands {
    /// Play a built-in morning at a council contact centre through the routing engine and print
    /// every routing event and the queue figures.
    ///
    /// Nine staff across a telephone centre and two one-stop shops take calls, walk-ins, chats
    /// and emails about council tax, benefits, bins, housing and a safeguarding concern. Offers
    /// are answered and contacts completed by simulated desktops on a fixed script, so every
    /// run prints the same thing. With --data-dir the events are written to a real event log
    /// there, for `audit` and `replay`.
    Scenario(scenario::Args),
    /// Check or read the audit trail (the event log).
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Rebuild the routing state from the whole event log and summarise it, with the rate in
    /// events per second.
    Replay(replay::Args),
    /// Run the whole thing on this machine: a local nats-server (installed on first use), the
    /// engine, synthetic calls, chats, emails and walk-ins, and simulated agent desktops, with a
    /// live summary and the Prometheus endpoint. Ctrl-C stops it cleanly.
    Demo(demo::Args),
    /// Run the engine on NATS: recover the state from the data directory, then take contacts
    /// and agents' commands on the wire contract until SIGINT or SIGTERM.
    Serve(serve::Args),
    /// Work with the configuration file.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Working days and opening hours: when a channel next opens, what N working days after a
    /// time is, and a complaint's statutory due times.
    Calendar(calendar::Args),
    /// Simulate a day (or more) at a contact centre through the real routing core, from a
    /// scenario file, and print the figures per queue; or re-run a recorded log under another
    /// routing configuration (what-if).
    Simulate(simulate::Args),
    /// How many agents a queue needs: traffic in Erlangs, the fewest agents meeting the
    /// service-level target (Erlang C, or Erlang A with --patience-secs), a table around it and
    /// the rostered head count after shrinkage. With --from-log DIR: per interval of a recorded log
    /// and per pool of live queues sharing agents, the requirement beside the agents staffed,
    /// understaffed intervals first.
    Staffing(staffing::Args),
    /// Management information from a recorded log: per queue and interval (offered, answered,
    /// abandoned, service level against target, ASA, AHT, longest wait, transfers,
    /// escalations, first-contact resolution, agents staffed), per agent, and the complaint
    /// timescale table; over local days, as text, --json, --csv files or an --html page.
    Report(report::Args),
    /// Personal data: what the `[retention]` schedule makes due for erasure in a recorded log,
    /// and when; erasure on request; re-sealing a log written before sealing (docs/privacy.md).
    #[command(subcommand)]
    Privacy(PrivacyCommand),
    /// Proof of speed: drive an engine over NATS with simulated agents at a fixed open-loop
    /// rate and report create→offer latency and CPU per contact against the protocol relay
    /// (the floor: the engine's NATS work without routing) and the bare and durable relays,
    /// measured in the same run, and the engine's memory; --find-max finds both highest
    /// sustainable rates and their ratio.
    Loadgen(loadgen::Args),
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Check a configuration file: syntax, unknown keys, values and routing plans. Problems name
    /// the line or the field.
    Check {
        /// The file.
        file: std::path::PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum PrivacyCommand {
    /// Every customer (and contact given without a customer reference) in the log with when
    /// its retention period ends, counted from the end of its last contact by the period of
    /// that contact's service; soonest first, those already past marked DUE. Customers with a
    /// contact open are kept until it ends.
    Report(privacy::ReportArgs),
    /// Erase a customer's personal data (UK GDPR Article 17): the engine destroys their key, so
    /// everything sealed under it reads as [erased] for good, and records personal_data_erased
    /// under their pseudonym. A customer with contacts in progress is erased as the last ends.
    /// An administrator's command: the NATS credentials must allow {prefix}.cmd.privacy.erase.
    Erase(privacy::EraseArgs),
    /// Re-seal a log written before sealing into a new data directory: verify the old log's
    /// whole hash chain (refused, exit 1, if it is broken), then copy every event in order to a
    /// new log with its customer reference, attribute values and free-text reasons sealed as
    /// the engine seals them, under keys in a new keystore there. Times, seqs, every other field
    /// and idempotency receipts are kept; the new log has a chain of its own. Writes
    /// reseal-proof.json (the old log's verified record count, last seq and head hash, the new
    /// log's, the time and the tool's version): the proof that the new trail continues a
    /// verified one. The old directory is only read; it still holds the plaintext, for the
    /// council to destroy under its own procedure. Stop the engine first.
    Reseal(privacy::ResealArgs),
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Check every record's checksum, the sequence and the whole hash chain. Exits 0 when the
    /// chain is whole, 1 with the first bad record's position when it is not.
    Verify(audit::VerifyArgs),
    /// Show the history of a contact (or of every contact of a customer): what happened, when,
    /// who, and why each routing decision was made.
    Show(audit::ShowArgs),
    /// List the contacts still open (waiting, ringing, being handled or held out of hours),
    /// longest wait first: where each is, with whom, its plan step and how long the customer
    /// has waited, counted up to the log's last event.
    Open(audit::OpenArgs),
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Commands::Scenario(args) => scenario::run(&args),
        Commands::Audit(AuditCommand::Verify(args)) => audit::verify(&args),
        Commands::Audit(AuditCommand::Show(args)) => audit::show(&args),
        Commands::Audit(AuditCommand::Open(args)) => audit::open(&args),
        Commands::Replay(args) => replay::run(&args),
        Commands::Serve(args) => serve::run(args),
        Commands::Demo(args) => demo::run(args),
        Commands::Config(ConfigCommand::Check { file }) => config::check(&file),
        Commands::Calendar(args) => calendar::run(&args),
        Commands::Simulate(args) => simulate::run(&args),
        Commands::Staffing(args) => staffing::run(&args),
        Commands::Report(args) => report::run(&args),
        Commands::Privacy(PrivacyCommand::Report(args)) => privacy::report(&args),
        Commands::Privacy(PrivacyCommand::Erase(args)) => privacy::erase(&args),
        Commands::Privacy(PrivacyCommand::Reseal(args)) => privacy::reseal(&args),
        Commands::Loadgen(args) => loadgen::run(&args),
    }
}

#[expect(
    clippy::print_stderr,
    reason = "the command line reports its errors on stderr"
)]
fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        // The reader went away (`| head`): not our failure.
        Err(error)
            if error
                .downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}
