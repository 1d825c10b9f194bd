//! The `switchboard` command line: one binary for operators and integrators.
//!
//! Subcommands today: `scenario` (a built-in council morning played through the routing core).
//! The NATS service (`serve`, `demo`), the audit tools and the simulator join it as they land.

use anyhow::Result;
use clap::{Parser, Subcommand};

mod scenario;

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
    /// Play a built-in morning at a council contact centre through the routing core and print
    /// every routing event and the queue figures.
    ///
    /// Nine staff across a telephone centre and two one-stop shops take calls, walk-ins, chats
    /// and emails about council tax, benefits, bins, housing and a safeguarding concern. Offers
    /// are answered and contacts completed by simulated desktops on a fixed script, so every
    /// run prints the same thing.
    Scenario(scenario::Args),
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Commands::Scenario(args) => scenario::run(&args),
    }
}
