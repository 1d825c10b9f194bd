//! The history of one contact, or of every contact of one customer, read from the log: the audit
//! trail's answer to "what happened, when, who, why".

use std::collections::BTreeSet;
use std::path::Path;

use switchboard_core::{Event, EventKind};
use switchboard_log::{LogError, LogReader, Record};
use switchboard_wire::decode_event;

use crate::EngineError;

/// Whose history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HistoryFilter {
    /// One contact, by id.
    Contact(String),
    /// Every contact of one customer, by customer reference, and the decisions about the
    /// customer that name no contact (a persistent-complainant designation).
    Customer(String),
}

/// Every event of the contact (or the customer's contacts) in the log at `dir`, with its sequence
/// number, oldest first. Reads the whole log; for the command line.
///
/// # Errors
/// The log is damaged or a record does not decode.
pub fn history(dir: &Path, filter: &HistoryFilter) -> Result<Vec<(u64, Event)>, EngineError> {
    history_up_to(dir, filter, u64::MAX)
}

/// Like [`history`], but only the events up to sequence number `up_to`: for a running engine,
/// its durable point, so that what a crash could still take back is never reported.
///
/// # Errors
/// The log is damaged or a record does not decode.
pub fn history_up_to(
    dir: &Path,
    filter: &HistoryFilter,
    up_to: u64,
) -> Result<Vec<(u64, Event)>, EngineError> {
    let reader = LogReader::open(dir)?;
    if reader.last_seq()? == 0 {
        return Ok(Vec::new());
    }
    history_of_records(reader.read_from(1)?, filter, up_to)
}

/// Like [`history_up_to`], over records read from any backend of the log (a JetStream log's
/// reader, say), from the first.
///
/// # Errors
/// A record could not be read, or does not decode.
pub fn history_of_records(
    records: impl IntoIterator<Item = Result<Record, LogError>>,
    filter: &HistoryFilter,
    up_to: u64,
) -> Result<Vec<(u64, Event)>, EngineError> {
    let mut contacts: BTreeSet<String> = BTreeSet::new();
    if let HistoryFilter::Contact(id) = filter {
        contacts.insert(id.clone());
    }
    let mut found = Vec::new();
    for record in records {
        let record = record?;
        if record.seq > up_to {
            break;
        }
        let event = decode_event(&record.payload).map_err(|source| EngineError::Decode {
            seq: record.seq,
            source,
        })?;
        if let (HistoryFilter::Customer(customer), EventKind::ContactCreated(created)) =
            (filter, &event.kind)
            && created.details.customer.as_deref() == Some(customer.as_str())
        {
            contacts.insert(created.details.id.to_string());
        }
        // A customer's own events name no contact (a persistent-complainant decision): a
        // subject access request must see them too.
        let of_customer = matches!(
            (filter, &event.kind),
            (
                HistoryFilter::Customer(customer),
                EventKind::PersistentComplainantMarked { customer: theirs, .. },
            ) if theirs.as_str() == customer.as_str()
        );
        if of_customer
            || event
                .kind
                .contact()
                .is_some_and(|c| contacts.contains(c.as_str()))
        {
            found.push((record.seq, event));
        }
    }
    Ok(found)
}
