//! `switchboard privacy report`: what the retention schedule of `[retention]` makes due for
//! erasure in a recorded log, and when: every customer (and every contact given without a
//! customer reference) with the end of their last contact counted forward by the period of its
//! service. Read from the log alone, with the clock as `--at`, so the same log and schedule
//! always give the same report. The engine does not shred yet (docs/privacy.md, "Status"):
//! this says what the schedule requires, for the data protection officer to act on.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use serde_json::{Value, json};
use switchboard_core::{EventKind, Timestamp};
use switchboard_privacy::{DomainSecret, Keys, Pseudonym, RetentionLedger, RetentionSchedule};

/// `switchboard privacy report`.
#[derive(Debug, clap::Args)]
pub(crate) struct ReportArgs {
    /// The engine's data directory (holding the log's segment files).
    #[arg(long, env = "SWITCHBOARD_DATA_DIR")]
    data_dir: PathBuf,
    /// The configuration file whose `[retention]` section gives the periods.
    #[arg(long, env = "SWITCHBOARD_CONFIG")]
    config: PathBuf,
    /// The instant to report at (RFC 3339, e.g. `2030-01-01T00:00:00Z`); now when not given.
    #[arg(long)]
    at: Option<jiff::Timestamp>,
    /// How many subjects to list, soonest first.
    #[arg(long, default_value_t = 20)]
    limit: usize,
    /// Print JSON (for scripts) instead of text.
    #[arg(long)]
    json: bool,
}

/// Whom a subject is, in the log's words.
enum Named {
    /// A customer reference.
    Customer(String),
    /// A contact given without one.
    Contact(String),
}

/// The log folded into subjects' lifetimes.
struct Folded {
    /// Each subject's lifetime.
    ledger: RetentionLedger,
    /// Each subject's name, for the report.
    names: BTreeMap<Pseudonym, Named>,
    /// Subjects with a contact open at the log's end (never due while it is).
    open: usize,
}

/// Prints the report.
pub(crate) fn report(args: &ReportArgs) -> Result<ExitCode> {
    crate::audit::require_log(&args.data_dir)?;
    let (file, _) = crate::config::load(&args.config)?;
    let schedule = file.retention_schedule()?.with_context(|| {
        format!(
            "{} has no [retention] section: give at least `default = \"2y\"` (docs/privacy.md)",
            args.config.display()
        )
    })?;
    let at = args.at.unwrap_or_else(jiff::Timestamp::now);
    let now = Timestamp::from_millis(u64::try_from(at.as_millisecond()).unwrap_or(0));
    let folded = fold(&args.data_dir, &schedule)?;
    let due_now = folded.ledger.due(now, usize::MAX).len();
    let rows: Vec<Value> = folded
        .ledger
        .next(args.limit)
        .into_iter()
        .map(|(subject, expires)| row(&folded.names, subject, expires, now))
        .collect();
    if args.json {
        let body = json!({
            "at": at.to_string(),
            "default": schedule.default.to_string(),
            "services": schedule.services.iter().map(|(s, p)| (s.clone(), p.to_string())).collect::<BTreeMap<_, _>>(),
            "due_now": due_now,
            "with_contact_open": folded.open,
            "next": rows,
        });
        say!("{}", serde_json::to_string_pretty(&body)?);
        return Ok(ExitCode::SUCCESS);
    }
    say!(
        "Retention at {at}: {due_now} subject(s) past their period (to be erased), {} with a contact open (kept until it ends).",
        folded.open
    );
    say!("Soonest first:");
    for row in &rows {
        let who = row["customer_id"]
            .as_str()
            .map(|c| format!("customer {c}"))
            .or_else(|| {
                row["contact_id"]
                    .as_str()
                    .map(|c| format!("contact {c} (no customer reference)"))
            })
            .unwrap_or_default();
        let state = if row["due"] == true { "DUE" } else { "   " };
        say!(
            "  {state} {} {who}",
            row["expires_at"].as_str().unwrap_or_default()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// One subject's line.
fn row(
    names: &BTreeMap<Pseudonym, Named>,
    subject: Pseudonym,
    expires: Timestamp,
    now: Timestamp,
) -> Value {
    let expires_at = i64::try_from(expires.as_millis())
        .ok()
        .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
        .map_or_else(|| "never".to_owned(), |t| t.to_string());
    let mut row = json!({ "expires_at": expires_at, "due": expires <= now });
    match names.get(&subject) {
        Some(Named::Customer(id)) => row["customer_id"] = json!(id),
        Some(Named::Contact(id)) => row["contact_id"] = json!(id),
        None => {}
    }
    row
}

/// Reads the whole log into subjects' lifetimes: a contact starts at its creation and ends
/// when it is completed or abandoned, in the service it was in then.
fn fold(dir: &std::path::Path, schedule: &RetentionSchedule) -> Result<Folded> {
    // Pseudonyms only key the ledger here; a fresh secret serves, and is never stored.
    let keys = Keys::new(DomainSecret::generate()?);
    let opener = data_dir_keys(dir);
    let mut ledger = RetentionLedger::new();
    let mut names = BTreeMap::new();
    // Open contacts: their subject and service.
    let mut contacts: BTreeMap<String, (Pseudonym, String)> = BTreeMap::new();
    let reader = switchboard_log::LogReader::open(dir)?;
    for record in reader.read_from(1)? {
        let record = record?;
        let event = switchboard_wire::decode_event(&record.payload).with_context(|| {
            format!(
                "record {} of the log does not decode as an event",
                record.seq
            )
        })?;
        match &event.kind {
            EventKind::ContactCreated(created) => {
                let d = &created.details;
                let (subject, named) = match &d.customer {
                    // A sealed reference names its customer's pseudonym, and opens with the
                    // keystore (or reads `[erased]`).
                    Some(c) => (
                        switchboard_privacy::token_subject(c).unwrap_or_else(|| keys.customer(c)),
                        Named::Customer(opener.as_ref().map_or_else(
                            || c.to_string(),
                            |k| switchboard_privacy::open_text(k, c),
                        )),
                    ),
                    None => (keys.contact(&d.id), Named::Contact(d.id.to_string())),
                };
                names.entry(subject).or_insert(named);
                ledger.contact_started(subject);
                contacts.insert(d.id.to_string(), (subject, d.service.to_string()));
            }
            EventKind::ContactTransferred {
                contact, service, ..
            } => {
                if let Some(open) = contacts.get_mut(contact.as_str()) {
                    open.1 = service.to_string();
                }
            }
            EventKind::ContactCompleted { contact, .. }
            | EventKind::ContactAbandoned { contact, .. } => {
                if let Some((subject, service)) = contacts.remove(contact.as_str()) {
                    ledger.contact_ended(subject, &service, event.at, schedule);
                }
            }
            _ => {}
        }
    }
    let open = contacts
        .values()
        .map(|(subject, _)| *subject)
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    Ok(Folded {
        ledger,
        names,
        open,
    })
}

/// The keys of the keystore in a data directory, to open sealed values with; `None` (with a
/// warning on stderr, unless there is simply no keystore) when they cannot be read, and sealed
/// values then show as tokens.
pub(crate) fn data_dir_keys(dir: &std::path::Path) -> Option<Keys> {
    use std::io::Write as _;
    match switchboard_privacy::FileKeystore::open(dir.join(switchboard_privacy::KEYSTORE_FILE)) {
        Ok(store) => Some(store.keys().clone()),
        Err(switchboard_privacy::PrivacyError::Lost { .. }) => None,
        Err(error) => {
            let _ = writeln!(
                std::io::stderr(),
                "warning: the keystore could not be read ({error}): sealed values are shown sealed"
            );
            None
        }
    }
}
