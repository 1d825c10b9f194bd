//! `switchboard staffing`: how many agents a queue needs for a forecast volume, handle time and
//! service-level target (Erlang C, or Erlang A when callers' patience is given), with the table
//! around the answer and the rostered head count after shrinkage; or, with `--from-log`, per
//! queue and interval of a recorded log, the requirement beside the agents actually staffed
//! (`report::staffing`).

use std::process::ExitCode;

use anyhow::{Context, Result};
use switchboard_sim::staffing::{StaffingQuery, plan_staffing};

/// Options of `switchboard staffing`.
#[derive(Debug, clap::Args)]
#[command(allow_negative_numbers = true)]
pub(crate) struct Args {
    /// Contacts forecast to be offered in the interval (e.g. 360).
    #[arg(long, required_unless_present = "from_log")]
    arrivals_per_interval: Option<f64>,
    /// The length of the interval in seconds (e.g. 1800 for half an hour).
    #[arg(long, default_value_t = 1800.0)]
    interval_secs: f64,
    /// The average handle time in seconds, talk plus wrap-up (e.g. 240).
    #[arg(long, required_unless_present = "from_log")]
    aht_secs: Option<f64>,
    /// The share of contacts to answer within --target-secs, between 0 and 1 (80% is 0.8).
    #[arg(long, default_value_t = 0.8)]
    target_sl: f64,
    /// The service-level threshold in seconds (default 20; with --from-log, each queue's
    /// configured threshold).
    #[arg(long)]
    target_secs: Option<f64>,
    /// Callers' mean patience in seconds: selects Erlang A (callers may hang up).
    #[arg(long)]
    patience_secs: Option<f64>,
    /// The share of paid time agents are unavailable (breaks, training, absence), in [0, 1).
    #[arg(long, default_value_t = 0.0)]
    shrinkage: f64,
    /// An upper bound on the average speed of answer, in seconds.
    #[arg(long)]
    max_asa_secs: Option<f64>,
    /// An upper bound on occupancy, in (0, 1].
    #[arg(long)]
    max_occupancy: Option<f64>,
    /// Print the answer as JSON (the keys of `StaffingAnswer`).
    #[arg(long)]
    json: bool,
    /// Size every interval of the recorded log in this data directory, per pool of live queues
    /// sharing agents, from its measured arrivals and handle times, against the agents it had
    /// staffed (docs/reporting.md).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["arrivals_per_interval", "aht_secs", "patience_secs"])]
    from_log: Option<std::path::PathBuf>,
    /// With --from-log: size with Erlang A, each queue's patience estimated from the log.
    #[arg(long, requires = "from_log")]
    patience_from_log: bool,
    #[command(flatten)]
    period: crate::report::PeriodArgs,
}

/// Runs `switchboard staffing`. Invalid input is an error, which `main` reports with exit 2.
pub(crate) fn run(args: &Args) -> Result<ExitCode> {
    if let Some(dir) = &args.from_log {
        return crate::report::staffing::run(&crate::report::staffing::FromLog {
            dir,
            period: &args.period,
            query: switchboard_sim::shortfall::ShortfallQuery {
                target_sl: args.target_sl,
                target_secs: args.target_secs,
                patience_from_log: args.patience_from_log,
            },
            json: args.json,
        });
    }
    let (Some(arrivals_per_interval), Some(aht_secs)) = (args.arrivals_per_interval, args.aht_secs)
    else {
        anyhow::bail!("give --arrivals-per-interval and --aht-secs, or --from-log DIR");
    };
    let query = StaffingQuery {
        arrivals_per_interval,
        interval_secs: args.interval_secs,
        aht_secs,
        target_sl: args.target_sl,
        target_secs: args.target_secs.unwrap_or(20.0),
        patience_secs: args.patience_secs,
        shrinkage: args.shrinkage,
        max_asa_secs: args.max_asa_secs,
        max_occupancy: args.max_occupancy,
    };
    let answer = plan_staffing(&query).context("cannot size this queue")?;
    if args.json {
        say!("{}", serde_json::to_string(&answer)?);
    } else {
        std::io::Write::write_fmt(&mut std::io::stdout(), format_args!("{answer}"))?;
    }
    Ok(ExitCode::SUCCESS)
}
