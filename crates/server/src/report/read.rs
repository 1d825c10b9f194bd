//! One pass over a recorded log into the figures fold: a reader thread reads and checks the
//! records (CRC32C, sequence, hash chain) through switchboard-log's reader and hands their
//! payloads over in batches; this thread decodes each (switchboard-wire's `decode_event`) and
//! folds it. Reading stops at the first record at or after the end of the report's window
//! (records are in time order: the core's clock never goes back). Memory: the fold's, and at
//! most [`BATCHES_IN_FLIGHT`] batches of payloads.

use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use indicatif::ProgressBar;
use switchboard_log::{LogError, LogReader};
use switchboard_sim::Collector;
use switchboard_sim::figures::Measured;

/// Records handed over at once.
const BATCH_RECORDS: usize = 4096;
/// Batches read ahead of the fold.
const BATCHES_IN_FLIGHT: usize = 8;

/// Payloads of consecutive records, back to back.
struct Batch {
    first_seq: u64,
    bytes: Vec<u8>,
    /// Where each payload ends in `bytes`.
    ends: Vec<usize>,
}

impl Batch {
    fn new(first_seq: u64) -> Self {
        Self {
            first_seq,
            bytes: Vec::with_capacity(BATCH_RECORDS * 256),
            ends: Vec::with_capacity(BATCH_RECORDS),
        }
    }

    fn payloads(&self) -> impl Iterator<Item = (u64, &[u8])> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        (self.first_seq..)
            .zip(starts.zip(self.ends.iter().copied()))
            .map(|(seq, (start, end))| (seq, &self.bytes[start..end]))
    }
}

/// What the pass read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pass {
    /// Events read and folded.
    pub(crate) events: u64,
    /// How long the pass took.
    pub(crate) elapsed: Duration,
}

impl Pass {
    pub(crate) fn events_per_second(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Folds every event of the log in `dir` before the collector's end into it.
pub(crate) fn fold_log(
    dir: &Path,
    mut collector: Collector,
    bar: &ProgressBar,
) -> Result<(Measured, Pass)> {
    crate::audit::require_log(dir)?;
    let started = Instant::now();
    let reader = LogReader::open(dir)
        .with_context(|| format!("could not open the event log in {}", dir.display()))?;
    bar.set_length(reader.last_seq().context("could not read the event log")?);
    let end_ms = collector.end().as_millis();
    let keys = crate::privacy::data_dir_keys(dir);
    let (batches, received) = sync_channel(BATCHES_IN_FLIGHT);
    let events = std::thread::scope(|scope| -> Result<u64> {
        let reading = scope.spawn(move || read_batches(&reader, end_ms, &batches));
        let folded = fold_batches(&received, &mut collector, bar, keys.as_ref());
        // On a failed fold the channel closes and the reader stops at its next batch.
        drop(received);
        let read = reading
            .join()
            .map_err(|_| anyhow!("the log reader thread panicked"))?;
        let events = folded?;
        read.context("could not read the event log")?;
        Ok(events)
    })?;
    let pass = Pass {
        events,
        elapsed: started.elapsed(),
    };
    Ok((collector.finish(), pass))
}

/// Reads records from the first, checked, until one at or after `end_ms`, sending their
/// payloads in batches. Stops quietly when the receiver has gone.
fn read_batches(reader: &LogReader, end_ms: u64, out: &SyncSender<Batch>) -> Result<(), LogError> {
    let mut records = reader.read_from(1)?;
    let mut batch = Batch::new(1);
    while let Some(record) = records.next_view() {
        let record = record?;
        if record.at_ms >= end_ms {
            break;
        }
        if batch.ends.is_empty() {
            batch.first_seq = record.seq;
        }
        batch.bytes.extend_from_slice(record.payload);
        batch.ends.push(batch.bytes.len());
        if batch.ends.len() == BATCH_RECORDS {
            let next = Batch::new(record.seq + 1);
            if out.send(std::mem::replace(&mut batch, next)).is_err() {
                return Ok(());
            }
        }
    }
    if !batch.ends.is_empty() {
        let _ = out.send(batch);
    }
    Ok(())
}

/// Decodes and folds every batch received, returning how many events.
fn fold_batches(
    batches: &Receiver<Batch>,
    collector: &mut Collector,
    bar: &ProgressBar,
    keys: Option<&switchboard_privacy::Keys>,
) -> Result<u64> {
    let mut events = 0_u64;
    for batch in batches {
        for (seq, payload) in batch.payloads() {
            let event = switchboard_wire::decode_event(payload)
                .with_context(|| format!("record {seq} of the log does not decode as an event"))?;
            // Not-ready reasons are staff's free text, sealed in the log: opened with the
            // keystore, so that hours are counted per reason, not per sealed token.
            if let (Some(keys), switchboard_core::EventKind::AgentNotReady { .. }) =
                (keys, &event.kind)
            {
                collector.observe(&switchboard_privacy::open_event(keys, &event));
            } else {
                collector.observe(&event);
            }
        }
        let n = batch.ends.len() as u64;
        events += n;
        bar.inc(n);
    }
    Ok(events)
}
