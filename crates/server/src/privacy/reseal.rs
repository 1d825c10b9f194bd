//! `switchboard privacy reseal`: a log written before sealing, re-sealed into a new data
//! directory (docs/privacy.md, "Logs written before sealing").
//!
//! The old log's whole hash chain is verified first; then every record is read in order up to
//! the head that verified, its event's personal fields are sealed as the engine would have
//! sealed them ([`Sealer::seal_event`]), and it is appended, with its time and its idempotency
//! receipt, to a new file log with a chain of its own. Keys reach the new keystore (a journal
//! append) before anything sealed under them reaches the new log, as in the engine; the
//! keystore is rewritten whole at the end. `reseal-proof.json` then ties the new trail to the
//! verified old one: the old log's path, record count, last seq and head hash, the new log's
//! count and head hash, the time and the tool's version.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use serde_json::{Value, json};
use switchboard_log::{Entry, FileLog, LogError, LogOptions, LogReader, VerifyReport};
use switchboard_privacy::{FileKeystore, KEYSTORE_FILE, Sealer};

use crate::progress;

/// The proof's file name in the new data directory.
pub(crate) const PROOF_FILE: &str = "reseal-proof.json";

/// Records sealed and appended at a time (one keystore append and one fsync each).
const BATCH: usize = 1024;

/// `switchboard privacy reseal`.
#[derive(Debug, clap::Args)]
pub(crate) struct ResealArgs {
    /// The old data directory: the log written before sealing (read only, never changed).
    #[arg(long)]
    from: PathBuf,
    /// The new data directory: made if missing; it must hold no log and no keystore.
    #[arg(long)]
    to: PathBuf,
    /// Print the proof as JSON (for scripts) instead of text.
    #[arg(long)]
    json: bool,
}

/// What the new log holds once written.
struct Written {
    /// Records appended.
    records: u64,
    /// Records whose event carries a personal field.
    personal: u64,
    /// Idempotency receipts carried over.
    receipts: u64,
}

/// Re-seals `--from` into `--to` and writes and prints the proof; exit 1, with the reason,
/// when the old log does not verify or the new directory is not empty of a log and keys.
pub(crate) fn reseal(args: &ResealArgs) -> Result<ExitCode> {
    crate::audit::require_log(&args.from)?;
    if let Some(reason) = occupied(&args.from, &args.to)? {
        return refuse(args.json, &reason);
    }
    let verified = match verify_old(&args.from, args.json)? {
        Ok(report) => report,
        Err(reason) => return refuse(args.json, &reason),
    };
    std::fs::create_dir_all(&args.to)
        .with_context(|| format!("could not make {}", args.to.display()))?;
    let (mut store, carried) = new_keystore(&args.from, &args.to)?;
    let written = copy_sealed(&args.from, &args.to, &verified, &mut store, args.json)?;
    // Every key in one file, rewritten atomically (the journal absorbed).
    store.save().context("could not save the new keystore")?;
    let new = switchboard_log::verify(&args.to, |_, _| {})
        .with_context(|| format!("the new log in {} does not verify", args.to.display()))?;
    let proof = proof(args, &verified, &new, &written, carried)?;
    write_atomically(
        &args.to.join(PROOF_FILE),
        serde_json::to_string_pretty(&proof)?.as_bytes(),
    )?;
    if args.json {
        say!("{proof}");
    } else {
        print_proof(&proof)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Why the new directory cannot take the re-sealed log, if it cannot.
fn occupied(from: &Path, to: &Path) -> Result<Option<String>> {
    if !to.exists() {
        return Ok(None);
    }
    if !to.is_dir() {
        return Ok(Some(format!("{} is not a directory", to.display())));
    }
    if std::fs::canonicalize(from).ok() == std::fs::canonicalize(to).ok() {
        return Ok(Some(
            "--to is the old data directory itself: re-seal into a new one".to_owned(),
        ));
    }
    for entry in
        std::fs::read_dir(to).with_context(|| format!("could not read {}", to.display()))?
    {
        let name = entry?.file_name().to_string_lossy().into_owned();
        let what = if name.ends_with(".seg") || name.ends_with(".seg.tmp") {
            "an event log"
        } else if name.starts_with(KEYSTORE_FILE) {
            "a keystore"
        } else if name == PROOF_FILE {
            "a re-seal proof"
        } else {
            continue;
        };
        return Ok(Some(format!(
            "{} already holds {what} ({name}): re-seal into a new, empty data directory",
            to.display()
        )));
    }
    Ok(None)
}

/// Verifies the old log's whole chain, with a progress bar unless `quiet`: the report, or why
/// it does not verify.
fn verify_old(dir: &Path, quiet: bool) -> Result<std::result::Result<VerifyReport, String>> {
    let bar = progress::bar(quiet, "bytes");
    bar.set_message("verifying the old log");
    let result = switchboard_log::verify(dir, |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    });
    bar.finish_and_clear();
    match result {
        Ok(report) => Ok(Ok(report)),
        Err(LogError::Corrupt(corruption)) => {
            let seq = corruption
                .seq
                .map_or_else(String::new, |s| format!(" (record seq {s})"));
            Ok(Err(format!(
                "the old log does not verify: it is broken at {} byte {}{seq}: {}. Nothing was \
                 written; `switchboard audit verify` says the same",
                corruption.segment.display(),
                corruption.offset,
                corruption.problem
            )))
        }
        Err(other) => Err(other).with_context(|| format!("could not verify {}", dir.display())),
    }
}

/// Says why nothing was done; exit status 1.
fn refuse(json: bool, reason: &str) -> Result<ExitCode> {
    if json {
        say!("{}", json!({ "ok": false, "error": reason }));
    } else {
        say!("Refused: {reason}.");
    }
    Ok(ExitCode::FAILURE)
}

/// The new keystore: a new domain secret, unless the old data directory has a keystore (a log
/// partly written after sealing began), whose keys are carried over so that the values it
/// sealed still open and its erasures' pseudonyms still match; `true` when they were.
fn new_keystore(from: &Path, to: &Path) -> Result<(FileKeystore, bool)> {
    let mut store =
        FileKeystore::create(to.join(KEYSTORE_FILE)).context("could not make the new keystore")?;
    match FileKeystore::open(from.join(KEYSTORE_FILE)) {
        Ok(old) => {
            *store.keys_mut() = old.keys().clone();
            store.save().context("could not save the new keystore")?;
            Ok((store, true))
        }
        Err(switchboard_privacy::PrivacyError::Lost { .. }) => Ok((store, false)),
        Err(error) => Err(error).context(
            "the old data directory's keystore cannot be read: what it sealed would be lost",
        ),
    }
}

/// Reads the old log up to its verified head and appends every record, sealed, to a new log in
/// `to`, saving the keys each batch makes before the batch.
fn copy_sealed(
    from: &Path,
    to: &Path,
    verified: &VerifyReport,
    store: &mut FileKeystore,
    quiet: bool,
) -> Result<Written> {
    let (mut log, _) = FileLog::open(to, LogOptions::default())
        .with_context(|| format!("could not open a new log in {}", to.display()))?;
    let mut sealer = Sealer::from_os(store.keys().clone());
    let mut contacts = HashMap::new();
    let mut written = Written {
        records: 0,
        personal: 0,
        receipts: 0,
    };
    let mut batch = Vec::with_capacity(BATCH);
    let mut head = switchboard_log::ChainHash::GENESIS;
    let bar = progress::bar(quiet, "events");
    bar.set_message("re-sealing");
    bar.set_length(verified.records);
    let records = LogReader::open(from)?
        .read_from(1)?
        .up_to(verified.last_seq);
    for record in records {
        let record = record.with_context(|| format!("could not read {}", from.display()))?;
        let (event, receipt) = switchboard_wire::decode_record(&record.payload)
            .with_context(|| format!("record {} does not decode as an event", record.seq))?;
        written.personal += u64::from(switchboard_privacy::has_personal_fields(&event));
        written.receipts += u64::from(receipt.is_some());
        let event = sealer
            .seal_event(event, &mut contacts)
            .with_context(|| format!("record {} could not be sealed", record.seq))?;
        batch.push(Entry {
            at_ms: record.at_ms,
            payload: switchboard_wire::encode_record(&event, receipt.as_ref()),
        });
        head = record.hash;
        written.records += 1;
        if batch.len() == BATCH {
            append(&mut log, store, &mut sealer, &mut batch)?;
            bar.set_position(written.records);
        }
    }
    append(&mut log, store, &mut sealer, &mut batch)?;
    bar.finish_and_clear();
    // The records read are the records verified, not a log that changed since.
    anyhow::ensure!(
        written.records == verified.records && head == verified.head_hash,
        "the old log changed while it was re-sealed (it must not be in use): {} records read \
         against {} verified; remove {} and run again",
        written.records,
        verified.records,
        to.display()
    );
    Ok(written)
}

/// Saves the keys made for `batch`, then appends it durably.
fn append(
    log: &mut FileLog,
    store: &mut FileKeystore,
    sealer: &mut Sealer,
    batch: &mut Vec<Entry>,
) -> Result<()> {
    if let Some(delta) = sealer.take_delta() {
        let changes = store.keys_mut().apply(&delta);
        store
            .commit(&changes)
            .context("could not save keys to the new keystore")?;
    }
    if !batch.is_empty() {
        log.append(batch)
            .context("could not append to the new log")?;
        batch.clear();
    }
    Ok(())
}

/// The proof that the new trail continues a verified one.
fn proof(
    args: &ResealArgs,
    old: &VerifyReport,
    new: &VerifyReport,
    written: &Written,
    carried: bool,
) -> Result<Value> {
    let path = |p: &Path| {
        std::fs::canonicalize(p)
            .unwrap_or_else(|_| p.to_path_buf())
            .display()
            .to_string()
    };
    Ok(json!({
        "ok": true,
        "resealed_at": jiff::Timestamp::now().to_string(),
        "tool": format!("switchboard {}", env!("CARGO_PKG_VERSION")),
        "old_log": {
            "path": path(&args.from),
            "records": old.records,
            "last_seq": old.last_seq,
            "head_hash": hex(&old.head_hash.0),
            "verified": true,
            "torn_tail_left_out": old.torn_tail.is_some(),
        },
        "new_log": {
            "path": path(&args.to),
            "records": new.records,
            "last_seq": new.last_seq,
            "head_hash": hex(&new.head_hash.0),
        },
        "events_with_personal_fields": written.personal,
        // Every record came out as it went in (the same chain): nothing was left to seal.
        "already_sealed": new.head_hash == old.head_hash,
        "receipts_carried": written.receipts,
        "keystore": path(&args.to.join(KEYSTORE_FILE)),
        "keys_carried_from_old_keystore": carried,
    }))
}

/// The proof in words.
fn print_proof(proof: &Value) -> Result<()> {
    let (old, new) = (&proof["old_log"], &proof["new_log"]);
    let already_sealed = proof["already_sealed"] == true;
    if already_sealed {
        say!(
            "Copied {} records at {} with {}: the old log was already sealed ({} with personal \
             fields, every one sealed), so the new log is the same record for record, with the \
             same head hash.",
            new["records"],
            proof["resealed_at"].as_str().unwrap_or_default(),
            proof["tool"].as_str().unwrap_or_default(),
            proof["events_with_personal_fields"]
        );
    } else {
        say!(
            "Re-sealed {} records ({} with personal fields, now sealed) at {} with {}.",
            new["records"],
            proof["events_with_personal_fields"],
            proof["resealed_at"].as_str().unwrap_or_default(),
            proof["tool"].as_str().unwrap_or_default()
        );
    }
    say!(
        "Old log {}: verified whole, {} records, last seq {}, head hash {}.",
        old["path"].as_str().unwrap_or_default(),
        old["records"],
        old["last_seq"],
        old["head_hash"].as_str().unwrap_or_default()
    );
    say!(
        "New log {}: {} records, last seq {}, head hash {}; keys in {}.",
        new["path"].as_str().unwrap_or_default(),
        new["records"],
        new["last_seq"],
        new["head_hash"].as_str().unwrap_or_default(),
        proof["keystore"].as_str().unwrap_or_default()
    );
    if already_sealed {
        say!(
            "The proof is in {PROOF_FILE} beside the new log. The old log holds no personal \
             field that sealing would change: nothing in it needs destroying on that account."
        );
    } else {
        say!(
            "The proof is in {PROOF_FILE} beside the new log: keep it with the audit trail. The \
             old log still holds the plaintext; destroy it under the council's own procedure \
             (docs/operations.md)."
        );
    }
    Ok(())
}

/// Writes `bytes` to `path` through a temporary file beside it, synced and renamed, then syncs
/// the directory.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let temp = path.with_extension("json.tmp");
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)?;
        if let Some(dir) = path.parent() {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    };
    write().with_context(|| format!("could not write {}", path.display()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
