//! Queries (`{p}.query.>`): read-only answers from the state, whose replies wait in the open turn
//! like a command's, and a contact's history, read from the log once it is durable up to what
//! the state's part holds.

use async_nats::Subject;
use bytes::Bytes;
use switchboard_core::{Event, State};
use switchboard_wire::query::{ContactReply, HistoryEvent};
use switchboard_wire::{ErrorCode, Format, QueryKind, Reply, WireError};

use super::{Answer, Node, Request, Transmit, open_for_output};
use crate::telemetry;

/// The most contact histories asked for and not yet answered (each is a read of the log on a
/// blocking thread of the shell's); a contact query beyond it is refused `unavailable`, to be
/// asked again.
pub(crate) const HISTORY_READS_MAX: usize = 4;

/// A contact query waiting for its history.
#[derive(Debug)]
pub(super) struct History {
    to: Subject,
    format: Format,
    contact_id: String,
    /// The state's part, when the state knows the contact.
    current: Option<ContactReply>,
    /// The history is read up to here: every event decided when the query came.
    up_to: u64,
    /// Whether the read is out.
    asked: bool,
}

impl Node {
    /// Answers a query from the state as it is now; the reply joins the open turn (a contact's
    /// history waits for the log instead).
    pub(super) fn query(&mut self, kind: QueryKind, request: &Request, format: Format) {
        let Some(to) = request.reply.clone() else {
            return; // Nobody to tell.
        };
        telemetry::query_answered(kind.as_str());
        let body = match kind {
            QueryKind::Queues | QueryKind::Agents => {
                match switchboard_wire::decode_empty_query(&request.payload, format) {
                    // Like every request, a query that takes no fields refuses a body with some.
                    Err(error) => self.refused_query(request, error, format),
                    Ok(_) if kind == QueryKind::Queues => switchboard_wire::encode_query_reply(
                        &switchboard_wire::queues_reply(&self.router, self.now),
                        format,
                    ),
                    Ok(_) => {
                        let mut reply =
                            switchboard_wire::agents_reply(self.router.state(), self.now);
                        // Not-ready reasons are staff's free text, sealed: opened for the reader.
                        for line in &mut reply.agents {
                            if let Some(reason) = &mut line.reason {
                                *reason =
                                    switchboard_privacy::open_text(self.sealer.keys(), reason);
                            }
                        }
                        switchboard_wire::encode_query_reply(&reply, format)
                    }
                }
            }
            QueryKind::Contact => {
                match switchboard_wire::decode_contact_query(&request.payload, format) {
                    Ok(query) => match self.contact_query(to.clone(), format, query.contact_id) {
                        Some(body) => body,
                        None => return,
                    },
                    Err(error) => self.refused_query(request, error, format),
                }
            }
        };
        self.open.answers.push(Answer::Reply {
            to,
            body: Bytes::from(body),
            format,
            mark: None,
        });
    }

    fn refused_query(&mut self, request: &Request, error: WireError, format: Format) -> Vec<u8> {
        let reply = self.refuse(request, error);
        switchboard_wire::encode_reply(&reply, format)
    }

    /// A contact query: the state's part now, the history once durable. Returns the reply to
    /// send in its place at once (too many reads out), or `None` when it waits for its history.
    fn contact_query(
        &mut self,
        to: Subject,
        format: Format,
        contact_id: String,
    ) -> Option<Vec<u8>> {
        if self.histories.len() >= HISTORY_READS_MAX {
            telemetry::bad_message(ErrorCode::Unavailable.as_str());
            let busy = WireError::new(
                ErrorCode::Unavailable,
                format!(
                    "{HISTORY_READS_MAX} contact histories are being read already; ask again in \
                     a moment"
                ),
            );
            return Some(switchboard_wire::encode_reply(&Reply::Error(busy), format));
        }
        let state = self.router.state();
        let known =
            state.contact(&contact_id).is_some() || state.finished_contact(&contact_id).is_some();
        let current =
            known.then(|| switchboard_wire::contact_reply(state, &contact_id, Vec::new()));
        let id = self.next_history;
        self.next_history += 1;
        self.histories.insert(
            id,
            History {
                to,
                format,
                contact_id,
                current,
                up_to: self.last_decided,
                asked: false,
            },
        );
        self.ask_histories();
        None
    }

    /// Asks for every history whose point is durable now.
    pub(super) fn ask_histories(&mut self) {
        for (&id, history) in &mut self.histories {
            if !history.asked && history.up_to <= self.durable {
                history.asked = true;
                self.transmits.push_back(Transmit::ReadHistory {
                    id,
                    contact_id: history.contact_id.clone(),
                    up_to: history.up_to,
                });
            }
        }
    }

    /// The history of query `id` was read: its reply goes out.
    pub(super) fn history_read(&mut self, id: u64, history: Option<Vec<(u64, Event)>>) {
        let Some(waiting) = self.histories.remove(&id) else {
            return;
        };
        let keys = self.sealer.keys();
        let history: Vec<(u64, Event)> = history
            .unwrap_or_default()
            .into_iter()
            .map(|(seq, event)| (seq, open_for_output(keys, event)))
            .collect();
        let reply = match waiting.current {
            Some(mut reply) => {
                reply.history = history
                    .into_iter()
                    .map(|(seq, event)| HistoryEvent { seq, event })
                    .collect();
                reply
            }
            // Not in the state (finished long ago, or never): the log alone tells.
            None => switchboard_wire::contact_reply(&State::new(), &waiting.contact_id, history),
        };
        let body = switchboard_wire::encode_query_reply(&reply, waiting.format);
        self.transmits.push_back(Transmit::Reply {
            to: waiting.to,
            body: Bytes::from(body),
            mark: None,
        });
    }

    /// The log failed: the histories not yet asked for will not become durable; they are
    /// answered `unavailable`. Returns how many.
    pub(super) fn fail_histories(&mut self) -> usize {
        let failed: Vec<u64> = self
            .histories
            .iter()
            .filter(|(_, history)| !history.asked)
            .map(|(&id, _)| id)
            .collect();
        for &id in &failed {
            if let Some(history) = self.histories.remove(&id) {
                self.unavailable(history.to, history.format);
            }
        }
        failed.len()
    }
}
