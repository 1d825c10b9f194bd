//! The simulation's invariants, checked as the node speaks and after every step: nothing leaves
//! before it is durable; every acknowledged command's effects survive any crash, a contact
//! created once; a repeated key gets the first reply within the window (also across restarts);
//! the events stream is the log's prefix, in order, and once the faults stop the whole log;
//! the node's state is the log's replay.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use serde_json::Value;
use switchboard_core::{EventKind, State, Timestamp};
use switchboard_log::Entry;

use super::disk::event;

/// A broken invariant, with the step it broke at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Violation {
    /// Something left the node before the events it depends on were durable.
    Early {
        step: u32,
        what: String,
        needs: u64,
        durable: u64,
    },
    /// After a crash, an acknowledged command's events are not in the log as acknowledged.
    Lost { step: u32, seq: u64, log: u64 },
    /// An acknowledged contact is in the log other than once.
    NotOnce {
        step: u32,
        contact: String,
        times: usize,
    },
    /// A repeated key got another answer than the first reply, within the window.
    Repeat {
        step: u32,
        key: String,
        first: String,
        later: String,
        across_restart: bool,
    },
    /// The node's state is not the log's replay.
    Diverged { step: u32, log: u64 },
    /// A record for the log holds personal data in plaintext.
    Plaintext { step: u32, detail: String },
    /// The events stream holds an event out of order, twice, or not as the log has it.
    Stream { step: u32, detail: String },
    /// Once the faults stopped, the events stream still lacks an event of the log.
    Missing { seq: u64 },
    /// The world did not settle after the faults stopped.
    NotConverged { detail: String },
}

/// What the checker knows of a request the node took.
#[derive(Clone, Debug)]
struct Taken {
    /// The last event decided once the node had taken it: its answer needs them durable.
    needs: u64,
    /// When the node took it.
    at: Timestamp,
    /// Its idempotency key (subject and key).
    key: Option<String>,
    run: u32,
}

/// The first reply given under a key.
#[derive(Clone, Debug)]
struct First {
    reply: Value,
    /// When it was decided (its last event's time).
    at: Timestamp,
    run: u32,
    /// Whether it produced events (only those are remembered across a restart).
    had_events: bool,
}

/// The invariants' memory.
#[derive(Debug, Default)]
pub(super) struct Checker {
    taken: HashMap<String, Taken>,
    first: HashMap<String, First>,
    /// Acknowledged events: the sequence number and the record as it was when acknowledged.
    acked: BTreeMap<u64, Entry>,
    /// Acknowledged contacts.
    created: BTreeSet<String>,
    /// Whether a repeat after a restart must get the first reply (receipts).
    across_restarts: bool,
    window: Duration,
}

impl Checker {
    /// A checker of the idempotency `window`, across restarts or not.
    pub(super) fn new(across_restarts: bool, window: Duration) -> Self {
        Self {
            across_restarts,
            window,
            ..Self::default()
        }
    }

    /// The node took the request answered on `inbox`.
    pub(super) fn taken(
        &mut self,
        inbox: &str,
        needs: u64,
        at: Timestamp,
        key: Option<String>,
        run: u32,
    ) {
        let taken = Taken {
            needs,
            at,
            key,
            run,
        };
        self.taken.insert(inbox.to_owned(), taken);
    }

    /// The node released a reply on `inbox`, with the log durable up to `durable` (as told).
    pub(super) fn reply(
        &mut self,
        step: u32,
        inbox: &str,
        body: &[u8],
        durable: u64,
        entries: &[Entry],
    ) -> Result<(), Violation> {
        let reply: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        if reply["error"]["code"] == "unavailable" {
            return Ok(()); // Not an answer: the log failed, or the node is busy.
        }
        let Some(taken) = self.taken.get(inbox).cloned() else {
            return Ok(()); // Not a request the world sent (cannot happen).
        };
        let seq = reply["seq"].as_u64().unwrap_or(0);
        let needs = taken.needs.max(seq);
        if needs > durable {
            return Err(Violation::Early {
                step,
                what: format!("the reply on {inbox}: {reply}"),
                needs,
                durable,
            });
        }
        if reply["ok"] == true && seq > 0 {
            self.acked.insert(seq, entries[index(seq - 1)].clone());
            let count = reply["events"].as_u64().unwrap_or(1).max(1);
            for own in seq + 1 - count..=seq {
                if let EventKind::ContactCreated(created) = &event(&entries[index(own - 1)]).kind {
                    self.created.insert(created.details.id.to_string());
                }
            }
        }
        self.repeat(step, &taken, reply, entries)
    }

    /// A keyed reply: the first one is remembered; a later one within the window must be it.
    fn repeat(
        &mut self,
        step: u32,
        taken: &Taken,
        reply: Value,
        entries: &[Entry],
    ) -> Result<(), Violation> {
        let Some(key) = taken.key.clone() else {
            return Ok(());
        };
        let Some(first) = self.first.get(&key) else {
            if reply["ok"] == true {
                let seq = reply["seq"].as_u64().unwrap_or(0);
                let had_events = reply["events"].as_u64().unwrap_or(0) > 0;
                let at = if had_events {
                    event(&entries[index(seq - 1)]).at
                } else {
                    taken.at
                };
                let first = First {
                    reply,
                    at,
                    run: taken.run,
                    had_events,
                };
                self.first.insert(key, first);
            }
            return Ok(());
        };
        let within = taken.at.saturating_since(first.at) < self.window;
        let across_restart = first.run != taken.run;
        let checked = within && (!across_restart || (self.across_restarts && first.had_events));
        if checked && first.reply != reply {
            return Err(Violation::Repeat {
                step,
                key,
                first: first.reply.to_string(),
                later: reply.to_string(),
                across_restart,
            });
        }
        Ok(())
    }

    /// The node released an intake acknowledgement for a message it took with the log's last
    /// decided event at `needs`.
    pub(super) fn intake_ack(
        &mut self,
        step: u32,
        needs: u64,
        durable: u64,
        contact: &str,
    ) -> Result<(), Violation> {
        if needs > durable {
            return Err(Violation::Early {
                step,
                what: format!("the intake acknowledgement of {contact}"),
                needs,
                durable,
            });
        }
        self.created.insert(contact.to_owned());
        Ok(())
    }

    /// Something other than a reply left: it needs the log durable up to `needs`.
    pub(super) fn released(
        step: u32,
        what: impl FnOnce() -> String,
        needs: u64,
        durable: u64,
    ) -> Result<(), Violation> {
        if needs > durable {
            return Err(Violation::Early {
                step,
                what: what(),
                needs,
                durable,
            });
        }
        Ok(())
    }

    /// After a crash and recovery: every acknowledged event is in the log as it was, and every
    /// acknowledged contact was created exactly once.
    pub(super) fn recovered(&self, step: u32, entries: &[Entry]) -> Result<(), Violation> {
        let log = entries.len() as u64;
        for (seq, entry) in &self.acked {
            if *seq > log || entries[index(*seq - 1)] != *entry {
                return Err(Violation::Lost {
                    step,
                    seq: *seq,
                    log,
                });
            }
        }
        let mut times: HashMap<&str, usize> = HashMap::new();
        let events: Vec<_> = entries.iter().map(event).collect();
        for event in &events {
            if let EventKind::ContactCreated(created) = &event.kind {
                *times.entry(created.details.id.as_str()).or_default() += 1;
            }
        }
        for contact in &self.created {
            let times = times.get(contact.as_str()).copied().unwrap_or(0);
            if times != 1 {
                return Err(Violation::NotOnce {
                    step,
                    contact: contact.clone(),
                    times,
                });
            }
        }
        Ok(())
    }
}

/// The node's state must be the replay of the log's records (`shadow`).
pub(super) fn same_state(step: u32, node: &State, shadow: &State) -> Result<(), Violation> {
    if node == shadow {
        Ok(())
    } else {
        Err(Violation::Diverged {
            step,
            log: shadow.events_applied(),
        })
    }
}

fn index(seq: u64) -> usize {
    usize::try_from(seq).expect("a simulated log fits in memory")
}
