//! `switchboard privacy report`: what the retention schedule of `[retention]` makes due for
//! erasure in a recorded log, and when: every customer (and every contact given without a
//! customer reference) with the end of their last contact counted forward by the period of its
//! service. Read from the log alone, with the clock as `--at`, so the same log and schedule
//! always give the same report, folded as the engine folds its log (`RetentionFold`): what the
//! engine will shred next, and when. And `switchboard privacy erase`: an administrator's
//! erasure of one customer on request, sent to the engine over NATS; and `switchboard privacy
//! reseal` (in `reseal`): a log written before sealing, re-sealed into a new data directory.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use serde_json::{Value, json};
use switchboard_core::{EventKind, Timestamp};
use switchboard_privacy::{
    DomainSecret, Keys, Pseudonym, RetentionFold, RetentionLedger, RetentionSchedule,
};

mod reseal;

pub(crate) use reseal::{ResealArgs, reseal};

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
    if rows.is_empty() {
        say!(
            "Nothing waits for erasure: every subject in the log is erased already or has a \
             contact in progress."
        );
    } else {
        say!("Soonest first:");
    }
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
    // The keystore's domain secret gives the engine's pseudonyms, so that erasures recorded in
    // the log match; without a keystore a fresh secret serves (never stored).
    let opener = data_dir_keys(dir);
    let keys = match &opener {
        Some(keys) => keys.clone(),
        None => Keys::new(DomainSecret::generate()?),
    };
    let mut fold = RetentionFold::new();
    let mut names = BTreeMap::new();
    let reader = switchboard_log::LogReader::open(dir)?;
    for record in reader.read_from(1)? {
        let record = record?;
        let event = switchboard_wire::decode_event(&record.payload).with_context(|| {
            format!(
                "record {} of the log does not decode as an event",
                record.seq
            )
        })?;
        if let EventKind::ContactCreated(created) = &event.kind {
            let d = &created.details;
            let named = match &d.customer {
                // A sealed reference opens with the keystore (or reads `[erased]`).
                Some(c) => Named::Customer(
                    opener
                        .as_ref()
                        .map_or_else(|| c.to_string(), |k| switchboard_privacy::open_text(k, c)),
                ),
                None => Named::Contact(d.id.to_string()),
            };
            names
                .entry(RetentionFold::subject_of(&keys, d))
                .or_insert(named);
        }
        fold.observe(&keys, &event, schedule);
    }
    Ok(Folded {
        open: fold.subjects_with_open_contacts(),
        ledger: fold.into_ledger(),
        names,
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

/// `switchboard privacy erase`.
#[derive(Debug, clap::Args)]
pub(crate) struct EraseArgs {
    /// The customer's reference, as given in `contact.create`'s `customer_id`.
    #[arg(long)]
    customer: String,
    /// The NATS server URL(s), comma separated (default: the --config file's, else
    /// nats://127.0.0.1:4222).
    #[arg(long, env = "SWITCHBOARD_NATS_URL")]
    nats_url: Option<String>,
    /// A NATS credentials file (.creds): the administrator's, whose permissions allow
    /// `{prefix}.cmd.privacy.erase` (deploy/nats).
    #[arg(long, env = "SWITCHBOARD_NATS_CREDS")]
    nats_creds: Option<PathBuf>,
    /// The routing domain, by its subject prefix (default: the --config file's, else
    /// `switchboard`).
    #[arg(long)]
    subject_prefix: Option<String>,
    /// The engine's configuration file, for its `[nats]` URL, credentials, TLS and prefix. The
    /// flags above win over it.
    #[arg(long, env = "SWITCHBOARD_CONFIG")]
    config: Option<PathBuf>,
    /// How long to keep asking while no engine answers (a failover in cluster mode), in
    /// seconds. Every attempt carries the same idempotency key, so the erasure is recorded once.
    #[arg(long, default_value_t = 30)]
    wait_secs: u64,
    /// Print the engine's reply as JSON (for scripts) instead of text.
    #[arg(long)]
    json: bool,
}

/// Sends `{p}.cmd.privacy.erase` and says what the engine did.
pub(crate) fn erase(args: &EraseArgs) -> Result<ExitCode> {
    let nats = match &args.config {
        Some(path) => crate::config::load(path)?.0.nats,
        None => crate::config::FileConfig::default().nats,
    };
    let (mut settings, prefix) = nats.for_client(
        args.nats_url.as_ref(),
        args.nats_creds.as_ref(),
        args.subject_prefix.as_ref(),
    );
    let subjects = switchboard_wire::Subjects::new(&prefix)
        .map_err(|error| anyhow::anyhow!("--subject-prefix: {}", error.message))?;
    let subject = subjects
        .command(switchboard_wire::CommandKind::ErasePersonalData, None)
        .context("the erase command has a subject")?;
    let body = serde_json::to_vec(&json!({ "customer_id": args.customer }))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    // Replies under the administrator's own inbox prefix (deploy/nats/auth.conf).
    settings.inbox_prefix = Some("_INBOX.privacy".to_owned());
    let wait = std::time::Duration::from_secs(args.wait_secs);
    let reply = runtime.block_on(ask(&settings, subject, body.into(), wait))?;
    let reply = switchboard_wire::decode_reply(&reply, switchboard_wire::Format::Json)
        .map_err(|error| anyhow::anyhow!("the engine's reply does not read: {}", error.message))?;
    print_erasure(&args.customer, &reply, args.json)
}

/// Sends `body` to `subject` until an engine answers or `wait` has passed, with one
/// idempotency key for every attempt.
async fn ask(
    settings: &switchboard_nats::ConnectSettings,
    subject: String,
    body: bytes::Bytes,
    wait: std::time::Duration,
) -> Result<bytes::Bytes> {
    let client = switchboard_nats::connect(settings)
        .await
        .with_context(|| format!("could not connect to NATS at {}", settings.url))?;
    let key = format!("erase-{}", jiff::Timestamp::now().as_nanosecond());
    let deadline = tokio::time::Instant::now() + wait;
    let mut pace = tokio::time::interval(std::time::Duration::from_millis(500));
    loop {
        pace.tick().await;
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", key.as_str());
        headers.insert("Content-Type", "application/json");
        let asked = client.request_with_headers(subject.clone(), headers, body.clone());
        let failure = match tokio::time::timeout(std::time::Duration::from_secs(5), asked).await {
            Ok(Ok(message)) => return Ok(message.payload),
            Ok(Err(error)) => error.to_string(),
            Err(_) => "no answer within 5 s".to_owned(),
        };
        if tokio::time::Instant::now() >= deadline {
            anyhow::bail!(
                "no engine answered {subject} within {} s (last: {failure}); nothing is known \
                 to be erased: ask again (the same customer may be asked for again safely)",
                wait.as_secs()
            );
        }
    }
}

/// Says what the erasure did, or why it was refused.
fn print_erasure(customer: &str, reply: &switchboard_wire::Reply, json: bool) -> Result<ExitCode> {
    use std::io::Write as _;
    use switchboard_wire::reply::ErasureName;
    let mut out = std::io::stdout().lock();
    let body = match reply {
        switchboard_wire::Reply::Error(error) => {
            if json {
                writeln!(
                    out,
                    "{}",
                    json!({"ok": false, "error": {"code": error.code.as_str(), "message": error.message}})
                )?;
            } else {
                writeln!(out, "Refused ({}): {}", error.code.as_str(), error.message)?;
            }
            return Ok(ExitCode::FAILURE);
        }
        switchboard_wire::Reply::Ok(body) => body,
    };
    if json {
        writeln!(
            out,
            "{}",
            serde_json::to_string(&json!({"ok": true, "reply": body}))?
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    let text = match body.erasure {
        Some(ErasureName::Erased) => format!(
            "Erased: customer {customer}'s key is destroyed. Everything sealed under it reads as \
             [erased] for good; the log records personal_data_erased (seq {}) under the \
             customer's pseudonym, never the reference.",
            body.seq
        ),
        Some(ErasureName::Deferred) => format!(
            "Deferred: customer {customer} has contacts in progress. Their key is destroyed as \
             the last one ends (personal_data_erasure_deferred, seq {}); the events feed then \
             carries personal_data_erased.",
            body.seq
        ),
        Some(ErasureName::NothingHeld) => format!(
            "Nothing held: the engine holds no key for customer {customer} (never seen, or \
             erased before); the request is recorded as personal_data_erased (seq {}) all the \
             same.",
            body.seq
        ),
        None => format!(
            "Already waiting: customer {customer}'s erasure waits for their contacts in progress \
             to end; nothing new was recorded."
        ),
    };
    writeln!(out, "{text}")?;
    Ok(ExitCode::SUCCESS)
}
