//! The retention ledger folded from a log's events: which subject each contact belongs to, when
//! each subject's data expires, and what to tell the core to shred one. The engine folds its
//! whole log once at start-up and then each event it decides; `switchboard privacy report`
//! folds a recorded log. Pure: the same events and schedule give the same ledger.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use switchboard_core::{Command, CustomerId, ErasureReason, Event, EventKind, NewContact};

use crate::keys::Keys;
use crate::personal::token_subject;
use crate::pseudonym::Pseudonym;
use crate::retention::{RetentionLedger, RetentionSchedule};

/// A ledger and what it needs to follow a log: the contacts open now and the customer each
/// subject was last seen as.
#[derive(Debug, Clone, Default)]
pub struct RetentionFold {
    /// Every subject's lifetime.
    ledger: RetentionLedger,
    /// Contacts open now: their subject and current service.
    open: HashMap<String, (Pseudonym, String)>,
    /// The customer (the core's token) each subject was last seen as: what a shredding names.
    customers: BTreeMap<Pseudonym, CustomerId>,
}

impl RetentionFold {
    /// Nothing seen yet.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The subject a contact's personal data is sealed for: its customer's (named in the sealed
    /// token; the reference's pseudonym in a log written before sealing), else the contact's own.
    #[must_use]
    pub fn subject_of(keys: &Keys, contact: &NewContact) -> Pseudonym {
        match &contact.customer {
            Some(customer) => token_subject(customer).unwrap_or_else(|| keys.customer(customer)),
            None => keys.contact(&contact.id),
        }
    }

    /// Takes one event (in log order) into the ledger. `keys` give the pseudonyms of contacts
    /// without a customer and of references in a log written before sealing.
    pub fn observe(&mut self, keys: &Keys, event: &Event, schedule: &RetentionSchedule) {
        match &event.kind {
            EventKind::ContactCreated(created) => {
                let details = &created.details;
                let subject = Self::subject_of(keys, details);
                self.ledger.contact_started(subject);
                self.open.insert(
                    details.id.to_string(),
                    (subject, details.service.to_string()),
                );
                if let Some(customer) = &details.customer {
                    self.customers.insert(subject, customer.clone());
                }
            }
            EventKind::ContactTransferred {
                contact, service, ..
            } => {
                if let Some(open) = self.open.get_mut(contact.as_str()) {
                    open.1 = service.to_string();
                }
            }
            EventKind::ContactCompleted { contact, .. }
            | EventKind::ContactAbandoned { contact, .. } => {
                if let Some((subject, service)) = self.open.remove(contact.as_str()) {
                    self.ledger
                        .contact_ended(subject, &service, event.at, schedule);
                }
            }
            EventKind::PersonalDataErased(erased) => {
                if let Some(subject) = Pseudonym::parse_hex(&erased.subject) {
                    self.ledger.erased(subject);
                    self.customers.remove(&subject);
                }
            }
            _ => {}
        }
    }

    /// The ledger.
    #[must_use]
    pub fn ledger(&self) -> &RetentionLedger {
        &self.ledger
    }

    /// The ledger, the fold done with.
    #[must_use]
    pub fn into_ledger(self) -> RetentionLedger {
        self.ledger
    }

    /// How many subjects have a contact open now.
    #[must_use]
    pub fn subjects_with_open_contacts(&self) -> usize {
        self.open
            .values()
            .map(|(subject, _)| *subject)
            .collect::<std::collections::BTreeSet<_>>()
            .len()
    }

    /// The core's command that shreds `subject` because its retention period ran out: it names
    /// the customer as the core knows them, when the subject is a customer's.
    #[must_use]
    pub fn shred_command(&self, subject: Pseudonym) -> Command {
        Command::ErasePersonalData {
            customer: self.customers.get(&subject).cloned(),
            subject: Arc::from(subject.to_string()),
            reason: ErasureReason::Retention,
        }
    }
}
