//! What the agents' desktops are told of an event: an offer, and the notices (offer revoked or
//! expired, assigned, released, presence) on `{p}.agent.<id>.<notice>`. An offer carries the
//! contact's personal fields opened (docs/privacy.md): the desktop is entitled to them.

use async_nats::Subject;
use bytes::Bytes;
use switchboard_core::{Event, EventKind, State};
use switchboard_privacy::Keys;
use switchboard_wire::{Format, Subjects};

/// Adds what `event` tells agents' desktops to `notices`, as (subject, body) pairs. `state` is
/// the state as the event's turn left it (an offer's notice carries the contact's details).
pub(super) fn desktop_notices(
    state: &State,
    keys: &Keys,
    subjects: &Subjects,
    event: &Event,
    notices: &mut Vec<(Subject, Bytes)>,
) {
    if let EventKind::OfferMade(made) = &event.kind
        && let Some(mut notice) = switchboard_wire::offer_notice(state, made)
    {
        // The contact's personal fields, opened for the agent's desktop.
        if let Some(customer) = &mut notice.customer_id {
            *customer = switchboard_privacy::open_text(keys, customer);
        }
        for value in notice.attributes.values_mut() {
            *value = switchboard_privacy::open_text(keys, value);
        }
        match switchboard_wire::encode_offer(&notice, Format::Json) {
            Ok(bytes) => notices.push((
                Subject::from(subjects.agent_offer(&made.agent)),
                Bytes::from(bytes),
            )),
            Err(error) => {
                tracing::error!(%error, offer = %made.offer, "an offer could not be written");
            }
        }
    }
    // A presence notice carries the agent's not-ready reason: staff's free text, sealed.
    let opened;
    let event = if matches!(event.kind, EventKind::AgentNotReady { .. }) {
        opened = switchboard_privacy::open_event(keys, event);
        &opened
    } else {
        event
    };
    for (agent, notice) in switchboard_wire::agent_notices(event) {
        let name = notice.name();
        match switchboard_wire::encode_agent_notice(&notice, Format::Json) {
            Ok(bytes) => notices.push((
                Subject::from(subjects.agent_notice(&agent, name)),
                Bytes::from(bytes),
            )),
            Err(error) => {
                tracing::error!(%error, %agent, notice = name, "an agent notice could not be written");
            }
        }
    }
}
