//! Idempotency receipts in the log (docs/adr/0002): attached to the last event of a keyed
//! command on the way in, read back from the log's tail at recovery.
//!
//! **Writing.** A command that carried an idempotency key and produced events gets a
//! [`Receipt`] (the scoped key and its first reply). [`Engine::attach_receipt`] puts it on the
//! command's last event, which is the last event decided and not yet handed to the log; the
//! receipt is then written in that event's record (stored version 4, in the envelope before the
//! event, see `switchboard_wire::stored`). The core never sees it, replay ignores it, and the
//! events feed, which publishes decoded events, never publishes it.
//!
//! **Reading.** [`Engine::open`] reads back the receipts of the last [`ReceiptOptions::window`]
//! of the log, measured in the events' own time (`at`) back from the newest record, whatever
//! snapshot recovery started from: a snapshot taken after the window began does not hide the
//! receipts before it. The log is read a segment at a time from the newest back, and each
//! segment forward; the search stops at the segment whose first record is at or before the
//! window's start, or once [`ReceiptOptions::entries_max`] receipts (the newest) are found. So
//! it reads at most the window's records plus one segment, and fewer when the bound is reached:
//! never the whole of a long log. Only each record's two version bytes are looked at unless it
//! carries a receipt; events are not decoded. [`Recovered::receipts`] gives them in log order,
//! which is time order (the core never lets time go backwards).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use switchboard_core::{Event, Timestamp};
use switchboard_log::{Entry, LogReader};
use switchboard_wire::{Receipt, decode_receipt, encode_record};

use crate::{Engine, EngineError, Recovered};

/// How much of the log's tail recovery reads receipts from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceiptOptions {
    /// The idempotency window: receipts of records whose `at` is at most this long before the
    /// newest record's. Default 10 minutes, the driver's window.
    pub window: Duration,
    /// At most this many receipts are read back, the newest (older ones in the window are
    /// dropped, as the driver's cache drops its oldest when full). Default 100 000, the
    /// driver's `idempotency_entries_max`; 0 reads none.
    pub entries_max: usize,
}

impl Default for ReceiptOptions {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(10 * 60),
            entries_max: 100_000,
        }
    }
}

/// The receipts recovery read back, and what reading them cost.
#[derive(Clone, Debug, Default)]
pub struct RecoveredReceipts {
    /// Each receipt with its record's time, oldest first.
    entries: Vec<(Timestamp, Receipt)>,
    /// Records read to find them.
    pub records_read: u64,
    /// Segments read (each from its start).
    pub segments_read: u32,
    /// The window's start in the events' time (`None` for an empty log).
    pub window_start: Option<Timestamp>,
    /// How long reading them took (part of [`Recovered::elapsed`]).
    pub elapsed: Duration,
}

impl RecoveredReceipts {
    /// The receipts, each with the time of the record it rode on, oldest first.
    #[must_use]
    pub fn entries(&self) -> &[(Timestamp, Receipt)] {
        &self.entries
    }

    /// Takes the receipts out (to build an idempotency cache without copying them).
    #[must_use]
    pub fn into_entries(self) -> Vec<(Timestamp, Receipt)> {
        self.entries
    }
}

impl Recovered {
    /// The idempotency receipts of the log's last window (see [`ReceiptOptions`]), each with
    /// the time of the record it rode on, oldest first: a repeat of one of these keys gets its
    /// reply. When a key appears twice, the first is the one a repeat gets.
    #[must_use]
    pub fn receipts(&self) -> &[(Timestamp, Receipt)] {
        self.receipts.entries()
    }
}

/// Why a receipt could not be attached. Each is a bug of the caller's, reported rather than
/// written into the log.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiptError {
    /// No event is pending: the command produced none (a refused or `unchanged` command keeps
    /// no receipt), or its events were already handed to the log.
    #[error("no event is pending to carry the receipt of key {key:?}")]
    NoPendingEvent {
        /// The receipt's key.
        key: String,
    },
    /// The reply's `seq` is not the last pending event's: the reply was not built from the
    /// command just decided.
    #[error("the reply names seq {reply_seq} but the last pending event is seq {last_seq}")]
    NotTheLastEvent {
        /// The reply's `seq`.
        reply_seq: u64,
        /// The last pending event's sequence number.
        last_seq: u64,
    },
    /// The last pending event already carries a receipt (of another command's key).
    #[error("seq {seq} already carries the receipt of key {key:?}")]
    AlreadyAttached {
        /// The event's sequence number.
        seq: u64,
        /// The key of the receipt it carries.
        key: String,
    },
}

/// Receipts attached to pending events, by the event's index in the pending list (ascending).
#[derive(Debug, Default)]
pub(crate) struct Attached {
    by_index: Vec<(usize, Receipt)>,
}

impl Attached {
    /// The log entries of `events` (the engine's pending list), each receipt attached to its
    /// event's record; the attachments are used up.
    pub(crate) fn encode_entries(&mut self, events: &[Event]) -> Vec<Entry> {
        let mut receipts = std::mem::take(&mut self.by_index).into_iter().peekable();
        let entries = events
            .iter()
            .enumerate()
            .map(|(index, event)| {
                let receipt = receipts.next_if(|(at, _)| *at == index).map(|(_, r)| r);
                Entry {
                    at_ms: event.at.as_millis(),
                    payload: encode_record(event, receipt.as_ref()),
                }
            })
            .collect();
        debug_assert!(
            receipts.next().is_none(),
            "a receipt past the pending events"
        );
        entries
    }
}

impl Engine {
    /// The events decided and not yet handed to the log, oldest first: after [`Engine::decide`]
    /// returned `count`, the command's events are the last `count`, numbered from
    /// `next_seq() - count`. For building a keyed command's reply before its receipt is
    /// attached.
    #[must_use]
    pub fn pending_events(&self) -> &[Event] {
        &self.pending
    }

    /// Attaches an idempotency receipt to the last pending event, which must be the last event
    /// of the keyed command just decided: call it right after a [`Engine::decide`] that returned
    /// a count above 0, with the reply built from those events (so `receipt.reply.seq` is
    /// `next_seq() - 1`). The receipt is written in that event's record by the next
    /// [`Engine::commit`] or [`Engine::submit`], and is read back by [`Engine::open`] while it
    /// is within the window ([`Recovered::receipts`]).
    ///
    /// # Errors
    /// A [`ReceiptError`] when nothing is pending, when the reply names another event, or when
    /// that event carries a receipt already; nothing is attached then.
    pub fn attach_receipt(&mut self, receipt: Receipt) -> Result<(), ReceiptError> {
        let Some(index) = self.pending.len().checked_sub(1) else {
            return Err(ReceiptError::NoPendingEvent { key: receipt.key });
        };
        let last_seq = self.next_seq() - 1;
        if receipt.reply.seq != last_seq {
            return Err(ReceiptError::NotTheLastEvent {
                reply_seq: receipt.reply.seq,
                last_seq,
            });
        }
        if let Some((attached_to, attached)) = self.receipts.by_index.last()
            && *attached_to == index
        {
            return Err(ReceiptError::AlreadyAttached {
                seq: last_seq,
                key: attached.key.clone(),
            });
        }
        self.receipts.by_index.push((index, receipt));
        Ok(())
    }
}

/// Reads the receipts of the last window from the log in `reader`, whose last record is
/// `last_seq`. See the module docs.
pub(crate) fn read_back(
    reader: &LogReader,
    options: &ReceiptOptions,
    last_seq: u64,
) -> Result<RecoveredReceipts, EngineError> {
    let started = Instant::now();
    let mut found = RecoveredReceipts::default();
    if last_seq == 0 || options.entries_max == 0 {
        return Ok(found);
    }
    let window_ms = u64::try_from(options.window.as_millis()).unwrap_or(u64::MAX);
    // Newest segment first; each segment's receipts, newest segment first.
    let mut newest_first: Vec<Vec<(Timestamp, Receipt)>> = Vec::new();
    let mut kept = 0_usize;
    let mut cutoff_ms: Option<u64> = None;
    let mut end = last_seq;
    for first in reader.segment_first_seqs()?.into_iter().rev() {
        if first > end {
            // A segment rolled over to that holds no record yet.
            continue;
        }
        let segment = read_segment(reader, first, end, options.entries_max - kept)?;
        found.records_read += segment.records;
        found.segments_read += 1;
        let cutoff = *cutoff_ms.get_or_insert(segment.last_at_ms.saturating_sub(window_ms));
        let in_window: Vec<_> = segment
            .receipts
            .into_iter()
            .filter(|(at, _)| at.as_millis() >= cutoff)
            .collect();
        kept += in_window.len();
        newest_first.push(in_window);
        if segment.first_at_ms <= cutoff || kept >= options.entries_max {
            break;
        }
        end = first - 1;
    }
    found.window_start = cutoff_ms.map(Timestamp::from_millis);
    found.entries = newest_first.into_iter().rev().flatten().collect();
    found.elapsed = started.elapsed();
    Ok(found)
}

/// What one segment's records `first..=end` hold.
struct SegmentReceipts {
    /// Its newest receipts (at most the bound asked for), oldest first, with their times.
    receipts: VecDeque<(Timestamp, Receipt)>,
    /// The time of its first record.
    first_at_ms: u64,
    /// The time of its last record.
    last_at_ms: u64,
    /// How many records it holds.
    records: u64,
}

/// Reads the records `first..=end` (one segment), keeping the newest `keep_max` receipts.
fn read_segment(
    reader: &LogReader,
    first: u64,
    end: u64,
    keep_max: usize,
) -> Result<SegmentReceipts, EngineError> {
    let mut segment = SegmentReceipts {
        receipts: VecDeque::new(),
        first_at_ms: 0,
        last_at_ms: 0,
        records: 0,
    };
    let mut records = reader.read_from(first)?.up_to(end);
    while let Some(view) = records.next_view() {
        let view = view?;
        if view.seq == first {
            segment.first_at_ms = view.at_ms;
        }
        segment.last_at_ms = view.at_ms;
        segment.records += 1;
        let receipt = decode_receipt(view.payload).map_err(|source| EngineError::Decode {
            seq: view.seq,
            source,
        })?;
        if let Some(receipt) = receipt {
            if segment.receipts.len() == keep_max {
                segment.receipts.pop_front();
            }
            segment
                .receipts
                .push_back((Timestamp::from_millis(view.at_ms), receipt));
        }
    }
    Ok(segment)
}
