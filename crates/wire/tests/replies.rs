//! Replies, offers, desktop notices and queries, built from a real router's state.

mod common;

use switchboard_core::{
    AgentId, Channel, Command, Event, EventKind, NewContact, Outcome, RoutingConfig, Timestamp,
};
use switchboard_wire::reply::{ContactStatusName, PresenceName};
use switchboard_wire::{
    AgentNotice, ErrorCode, Format, Reply, WireError, agent_notices, agents_reply, contact_reply,
    decode_reply, encode_query_reply, encode_reply, offer_notice, queues_reply, reply_body,
};

use common::{Centre, MONDAY_9AM};

/// A centre with `config` at 9 am on the golden Monday.
fn centre_with(config: RoutingConfig) -> Centre {
    Centre::starting_at(config, Timestamp::from_millis(MONDAY_9AM))
}

/// A centre with the default configuration at 9 am on the golden Monday.
fn new_centre() -> Centre {
    centre_with(RoutingConfig::default())
}

/// Runs a command; returns its events with their sequence numbers.
fn run(centre: &mut Centre, command: &Command) -> Vec<(u64, Event)> {
    let first = centre.log.len();
    centre.command(command.clone());
    numbered(&centre.log).skip(first).collect()
}

/// Every event of the log with its sequence number.
fn numbered(log: &[Event]) -> impl Iterator<Item = (u64, Event)> {
    (1..).zip(log.iter().cloned())
}

/// Moves the clock on by `ms` without handling what falls due.
fn later(centre: &mut Centre, ms: u64) {
    centre.now = Timestamp::from_millis(centre.now.as_millis() + ms);
}

/// The events of `contact`'s history, with their sequence numbers.
fn history(centre: &Centre, contact: &str) -> Vec<(u64, Event)> {
    numbered(&centre.log)
        .filter(|(_, e)| e.kind.contact().map(|c| c.as_str()) == Some(contact))
        .collect()
}

/// `agent`'s login at tier 1 on the phones site, with `skill` at level 3.
fn login(agent: &str, skill: &str) -> Command {
    common::login(agent, 1, "phones", &[(skill, 3)], None)
}

fn ready(agent: &str) -> Command {
    Command::MakeReady {
        agent: agent.into(),
    }
}

fn call(id: &str, service: &str) -> Command {
    Command::CreateContact(Box::new(NewContact::routine(id, Channel::Phone, service)))
}

/// A success reply with `body` reads back as itself from JSON and from postcard.
fn assert_round_trips(body: &switchboard_wire::ReplyBody) {
    for format in [Format::Json, Format::Postcard] {
        let reply = Reply::Ok(body.clone());
        assert_eq!(
            decode_reply(&encode_reply(&reply, format), format),
            Ok(reply)
        );
    }
}

fn refs(events: &[(u64, Event)]) -> impl Iterator<Item = (u64, &Event)> {
    events.iter().map(|(s, e)| (*s, e))
}

#[test]
fn replies_say_where_the_contact_and_the_agent_stand() {
    let mut centre = new_centre();
    let events = run(&mut centre, &login("ann", "council_tax"));
    let body = reply_body(&login("ann", "council_tax"), refs(&events));
    assert_eq!((body.seq, body.events), (1, 1));
    assert_eq!(body.presence, Some(PresenceName::NotReady));

    let events = run(&mut centre, &ready("ann"));
    let body = reply_body(&ready("ann"), refs(&events));
    assert_eq!(body.presence, Some(PresenceName::Ready));
    assert_eq!(body.contact_id, None);

    let create = call("c1", "council_tax");
    let events = run(&mut centre, &create);
    let body = reply_body(&create, refs(&events));
    assert_eq!(body.contact_id.as_deref(), Some("c1"));
    assert_eq!(body.status, Some(ContactStatusName::Offered));
    assert_eq!(body.agent_id.as_deref(), Some("ann"));
    let offer = body.offer_id.expect("an offer");
    assert_eq!(body.seq, centre.log.len() as u64);

    // A queued call: nobody free.
    let create2 = call("c2", "council_tax");
    let events = run(&mut centre, &create2);
    let body = reply_body(&create2, refs(&events));
    assert_eq!(body.status, Some(ContactStatusName::Queued));
    assert_eq!((body.agent_id, body.offer_id), (None, None));

    let accept = Command::AcceptOffer {
        agent: "ann".into(),
        offer: switchboard_core::OfferId::new(offer),
    };
    let events = run(&mut centre, &accept);
    let body = reply_body(&accept, refs(&events));
    assert_eq!(body.contact_id.as_deref(), Some("c1"));
    assert_eq!(body.status, Some(ContactStatusName::Assigned));

    let complete = Command::CompleteContact {
        agent: "ann".into(),
        contact: "c1".into(),
        outcome: Outcome::Resolved,
    };
    let events = run(&mut centre, &complete);
    let body = reply_body(&complete, refs(&events));
    assert_eq!(body.status, Some(ContactStatusName::Finished));
    assert_eq!(body.presence, Some(PresenceName::WrapUp));

    assert_round_trips(&body);
}

#[test]
fn replies_have_the_contract_shape_and_round_trip() {
    let ok = Reply::Ok(switchboard_wire::ReplyBody {
        seq: 7,
        events: 2,
        contact_id: Some("c1".into()),
        status: Some(ContactStatusName::Queued),
        ..Default::default()
    });
    let json: serde_json::Value =
        serde_json::from_slice(&encode_reply(&ok, Format::Json)).expect("JSON");
    assert_eq!(json["ok"], true);
    assert_eq!(json["seq"], 7);
    assert_eq!(json["status"], "queued");
    let error = Reply::Error(WireError::new(
        ErrorCode::UnknownOffer,
        "offer 9 is not open",
    ));
    let text = String::from_utf8(encode_reply(&error, Format::Json)).expect("UTF-8");
    assert_eq!(
        text,
        r#"{"ok":false,"error":{"code":"unknown_offer","message":"offer 9 is not open"}}"#
    );
    for format in [Format::Json, Format::Postcard] {
        for reply in [&ok, &error] {
            let bytes = encode_reply(reply, format);
            assert_eq!(decode_reply(&bytes, format).as_ref(), Ok(reply));
        }
    }
    assert!(decode_reply(b"{}", Format::Json).is_err());
    assert!(decode_reply(b"\xff", Format::Postcard).is_err());
}

#[test]
fn offers_carry_the_contact_and_the_decision_and_notices_follow_events() {
    let mut centre = new_centre();
    run(&mut centre, &login("ann", "council_tax"));
    run(&mut centre, &ready("ann"));
    let mut contact = NewContact::routine("c1", Channel::Phone, "council_tax");
    contact.customer = Some("cust-1".into());
    contact.vulnerable = true;
    contact.attributes = vec![("caller".into(), "+44 1632 960000".into())];
    let events = run(&mut centre, &Command::CreateContact(Box::new(contact)));
    let made = events
        .iter()
        .find_map(|(_, e)| match &e.kind {
            EventKind::OfferMade(made) => Some(made.as_ref().clone()),
            _ => None,
        })
        .expect("an offer");
    let notice = offer_notice(centre.router.state(), &made).expect("the contact is live");
    assert_eq!(notice.agent_id, "ann");
    assert_eq!(notice.contact_id, "c1");
    assert_eq!(notice.service, "council_tax");
    assert_eq!(notice.customer_id.as_deref(), Some("cust-1"));
    assert!(notice.vulnerable);
    assert_eq!(notice.skills.len(), 1);
    assert_eq!(
        notice.decision.rule,
        switchboard_wire::event::RuleDto::LongestIdle
    );
    assert_eq!(notice.decision.pool, 1);
    let json: serde_json::Value =
        serde_json::from_slice(&switchboard_wire::encode_offer(&notice, Format::Json).expect("ok"))
            .expect("JSON");
    assert_eq!(json["channel"], "phone");
    assert_eq!(json["attributes"]["caller"], "+44 1632 960000");
    assert_eq!(json["expires_at"], "2026-11-23T09:00:15.000Z");
    assert_eq!(json["decision"]["step_name"], "matched");
    let bytes = switchboard_wire::encode_offer(&notice, Format::Postcard).expect("ok");
    assert_eq!(
        postcard::from_bytes::<switchboard_wire::OfferNotice>(&bytes),
        Ok(notice)
    );

    // The customer hangs up: the offer is revoked, and the desktop is told.
    let events = run(
        &mut centre,
        &Command::AbandonContact {
            contact: "c1".into(),
        },
    );
    assert!(offer_notice(centre.router.state(), &made).is_none());
    let notices: Vec<_> = events.iter().flat_map(|(_, e)| agent_notices(e)).collect();
    assert!(
        notices
            .iter()
            .any(|(agent, n)| agent.as_str() == "ann" && n.name() == "offer_revoked"),
        "{notices:?}"
    );
    let events = run(
        &mut centre,
        &Command::MakeNotReady {
            agent: "ann".into(),
            reason: "lunch".into(),
        },
    );
    let (agent, notice) = events
        .iter()
        .flat_map(|(_, e)| agent_notices(e))
        .next()
        .expect("a state notice");
    assert_eq!(agent, AgentId::from("ann"));
    let AgentNotice::State(state) = &notice else {
        panic!("not a state notice: {notice:?}");
    };
    assert_eq!(state.presence, PresenceName::NotReady);
    assert_eq!(state.reason.as_deref(), Some("lunch"));
    let json = String::from_utf8(notice.encode(Format::Json).expect("ok")).expect("UTF-8");
    assert_eq!(
        json,
        r#"{"presence":"not_ready","reason":"lunch","wrap_up_until":null,"at":"2026-11-23T09:00:00.000Z"}"#
    );
}

#[test]
fn queue_and_agent_figures_come_from_the_state() {
    let mut centre = new_centre();
    run(&mut centre, &login("ann", "council_tax"));
    run(&mut centre, &login("bob", "benefits"));
    run(&mut centre, &ready("ann"));
    run(&mut centre, &call("c1", "council_tax")); // offered to ann
    later(&mut centre, 5_000);
    run(&mut centre, &call("c2", "council_tax")); // waits
    later(&mut centre, 5_000);
    run(&mut centre, &call("c3", "council_tax")); // waits
    run(&mut centre, &call("b1", "benefits")); // waits: bob is not ready
    run(
        &mut centre,
        &Command::AbandonContact {
            contact: "b1".into(),
        },
    );
    let offer = centre
        .router
        .state()
        .contact("c1")
        .and_then(|c| match c.status {
            switchboard_core::state::ContactStatus::Offered { offer, .. } => Some(offer),
            _ => None,
        })
        .expect("c1 is offered");
    run(
        &mut centre,
        &Command::AcceptOffer {
            agent: "ann".into(),
            offer,
        },
    );
    later(&mut centre, 1_000);

    let queues = queues_reply(&centre.router, centre.now);
    assert_eq!(queues.queues.len(), 2);
    // Postcard too (a line's figures are flattened in JSON only).
    let bytes = encode_query_reply(&queues, Format::Postcard);
    assert_eq!(
        postcard::from_bytes::<Result<switchboard_wire::QueuesReply, WireError>>(&bytes),
        Ok(Ok(queues.clone()))
    );
    let tax = &queues.queues[1];
    assert_eq!(
        (tax.service.as_str(), tax.channel),
        ("council_tax", switchboard_wire::event::ChannelDto::Phone)
    );
    let f = &tax.figures;
    assert_eq!((f.waiting, f.offered, f.assigned), (2, 0, 1));
    assert_eq!(f.oldest_wait_ms, Some(6_000), "c2 has waited 6 s");
    assert_eq!(
        (f.created, f.answered, f.answered_within_service_level),
        (3, 1, 1)
    );
    assert_eq!(f.service_level, Some(1.0));
    let benefits = &queues.queues[0].figures;
    assert_eq!(
        (benefits.created, benefits.abandoned, benefits.waiting),
        (1, 1, 0)
    );
    assert_eq!(benefits.service_level, Some(0.0));
    assert_eq!(queues.totals.created, 4);
    assert_eq!(queues.totals.service_level, Some(0.5));
    let json: serde_json::Value =
        serde_json::from_slice(&encode_query_reply(&queues, Format::Json)).expect("JSON");
    assert_eq!(json["ok"], true);
    assert_eq!(json["queues"][1]["waiting"], 2);

    let agents = agents_reply(centre.router.state(), centre.now);
    assert_eq!(agents.agents.len(), 2);
    let ann = &agents.agents[0];
    assert_eq!(
        (ann.agent_id.as_str(), ann.name.as_str()),
        ("ann", "Agent ann")
    );
    assert_eq!(ann.presence, PresenceName::Ready);
    assert_eq!(ann.contacts, vec!["c1".to_owned()]);
    assert_eq!(ann.load.phone, 1);
    assert_eq!(ann.capacity.chat, 3);
    let bob = &agents.agents[1];
    assert_eq!(bob.presence, PresenceName::NotReady);
    assert_eq!(bob.reason.as_deref(), Some("login"));
    assert_eq!(
        (
            agents.totals.logged_in,
            agents.totals.ready,
            agents.totals.not_ready
        ),
        (2, 1, 1)
    );
    let bytes = encode_query_reply(&agents, Format::Postcard);
    assert_eq!(
        postcard::from_bytes::<Result<switchboard_wire::AgentsReply, WireError>>(&bytes),
        Ok(Ok(agents))
    );
}

#[test]
fn a_contact_query_tells_status_and_history() {
    let mut centre = new_centre();
    run(&mut centre, &login("ann", "council_tax"));
    run(&mut centre, &ready("ann"));
    run(&mut centre, &call("c1", "council_tax"));
    let state = centre.router.state();
    let reply = contact_reply(state, "c1", history(&centre, "c1"));
    assert_eq!(reply.status, ContactStatusName::Offered);
    assert_eq!(reply.agent_id.as_deref(), Some("ann"));
    assert_eq!(reply.history.len(), 2, "created, offered");
    let json: serde_json::Value =
        serde_json::from_slice(&encode_query_reply(&reply, Format::Json)).expect("JSON");
    assert_eq!(json["history"][0]["type"], "contact_created");
    assert_eq!(json["history"][1]["type"], "offer_made");
    assert_eq!(json["history"][1]["agent_id"], "ann");
    assert!(!encode_query_reply(&reply, Format::Postcard).is_empty());

    run(
        &mut centre,
        &Command::AbandonContact {
            contact: "c1".into(),
        },
    );
    let reply = contact_reply(centre.router.state(), "c1", history(&centre, "c1"));
    assert_eq!(reply.status, ContactStatusName::Finished);
    assert_eq!(
        reply.finish,
        Some(switchboard_wire::query::FinishName::Abandoned)
    );
    // Forgotten by the state, still in the log.
    let reply = contact_reply(
        &switchboard_core::State::new(),
        "c1",
        history(&centre, "c1"),
    );
    assert_eq!(reply.status, ContactStatusName::Finished);
    let reply = contact_reply(centre.router.state(), "nobody", Vec::new());
    assert_eq!(reply.status, ContactStatusName::Unknown);

    let query = switchboard_wire::decode_contact_query(br#"{"contact_id":"c1"}"#, Format::Json)
        .expect("valid");
    assert_eq!(query.contact_id, "c1");
    let error = switchboard_wire::decode_contact_query(br#"{"id":"c1"}"#, Format::Json)
        .expect_err("unknown field");
    assert_eq!(error.code, ErrorCode::InvalidMessage);
}

#[test]
fn a_closed_channel_is_refused_with_its_opening() {
    // The library's phones refuse calls until noon (see `common::config`).
    let mut centre = centre_with(common::config());
    let mut call = NewContact::routine("p1", Channel::Phone, "housing");
    call.site = Some(common::LIBRARY.into());
    let rejection = centre
        .router
        .handle_command(Command::CreateContact(Box::new(call)), centre.now)
        .expect_err("closed");
    let error = WireError::from(rejection);
    assert_eq!(error.code, ErrorCode::Closed);
    let reply = Reply::Error(error);
    let json: serde_json::Value =
        serde_json::from_slice(&encode_reply(&reply, Format::Json)).expect("JSON");
    assert_eq!(json["error"]["code"], "closed");
    assert_eq!(json["error"]["opens_at"], "2026-11-23T12:00:00.000Z");
    for format in [Format::Json, Format::Postcard] {
        assert_eq!(
            decode_reply(&encode_reply(&reply, format), format),
            Ok(reply.clone())
        );
    }
    // Other errors have no `opens_at` in JSON: `replies_have_the_contract_shape_and_round_trip`
    // pins their exact text.
}

#[test]
fn a_held_contact_is_held_in_replies_queries_and_figures() {
    let mut centre = centre_with(common::config());
    let mut walk_in = NewContact::routine("w1", Channel::FaceToFace, "housing");
    walk_in.site = Some(common::LIBRARY.into());
    let create = Command::CreateContact(Box::new(walk_in));
    let events = run(&mut centre, &create);
    let body = reply_body(&create, refs(&events));
    assert_eq!(body.status, Some(ContactStatusName::Held));
    let json: serde_json::Value =
        serde_json::from_slice(&encode_reply(&Reply::Ok(body), Format::Json)).expect("JSON");
    assert_eq!(json["status"], "held");

    let reply = contact_reply(centre.router.state(), "w1", history(&centre, "w1"));
    assert_eq!(reply.status, ContactStatusName::Held);
    let json: serde_json::Value =
        serde_json::from_slice(&encode_query_reply(&reply, Format::Json)).expect("JSON");
    assert_eq!(json["status"], "held");
    assert_eq!(json["held_until"], "2026-11-23T12:00:00.000Z");
    assert_eq!(json["history"][1]["type"], "contact_held");

    let figures = queues_reply(&centre.router, centre.now).totals;
    assert_eq!(
        (figures.waiting, figures.waiting_for_opening, figures.held),
        (0, 1, 1)
    );
    assert_eq!(
        figures.oldest_wait_ms, None,
        "held contacts are not waiting"
    );
}

#[test]
fn callers_left_waiting_past_the_threshold_count_against_the_service_level_and_unservable_ones_are_flagged()
 {
    let mut centre = new_centre();
    run(&mut centre, &login("ann", "council_tax"));
    run(&mut centre, &ready("ann"));
    run(&mut centre, &call("c1", "council_tax")); // offered to ann
    run(&mut centre, &call("c2", "council_tax")); // waits for ann: servable
    run(&mut centre, &call("p1", "parking")); // nobody logged in has parking
    later(&mut centre, 60_000);
    centre.router.handle_timeout(centre.now);
    while centre.router.poll_event().is_some() {}

    let figures = queues_reply(&centre.router, centre.now);
    let tax = &figures.queues[0].figures;
    let parking = &figures.queues[1].figures;
    assert_eq!(figures.queues[0].service, "council_tax");
    // Nobody has been answered: every call waiting is past the 20 s threshold and has missed
    // it, so the service level is 0, not "100%" nor "none yet".
    assert_eq!(tax.waiting_past_threshold, 2);
    assert_eq!(tax.service_level, Some(0.0));
    assert_eq!((tax.unservable, parking.unservable), (0, 1));
    assert_eq!(figures.totals.unservable, 1);
    let json: serde_json::Value =
        serde_json::from_slice(&encode_query_reply(&figures, Format::Json)).expect("JSON");
    assert_eq!(json["queues"][1]["unservable"], 1);
    assert_eq!(json["totals"]["waiting_past_threshold"], 3);
}

#[test]
fn a_complaints_query_shows_its_stage_clock_and_extensions() {
    let mut centre = new_centre();
    let mut letter = NewContact::routine("e1", Channel::Email, "housing");
    letter.complaint_stage = Some(switchboard_core::ComplaintStage::Stage1);
    run(&mut centre, &Command::CreateContact(Box::new(letter)));
    let extend = Command::ExtendDueTime {
        contact: "e1".into(),
        agent: None,
        working_days: 3,
        reason: "waiting for the surveyor".into(),
    };
    let events = run(&mut centre, &extend);
    let body = reply_body(&extend, refs(&events));
    assert_eq!(body.contact_id.as_deref(), Some("e1"));
    assert_eq!(body.events, 1);

    let reply = contact_reply(centre.router.state(), "e1", history(&centre, "e1"));
    let contact = centre.router.state().contact("e1").expect("live");
    let json: serde_json::Value =
        serde_json::from_slice(&encode_query_reply(&reply, Format::Json)).expect("JSON");
    assert_eq!(json["status"], "queued");
    assert_eq!(json["held_until"], serde_json::Value::Null);
    assert_eq!(json["complaint_stage"], "stage_1");
    assert_eq!(json["extensions"], 1);
    let time = |t: Option<Timestamp>| {
        serde_json::to_value(t.map(switchboard_wire::event::Time::from)).expect("JSON")
    };
    assert!(contact.acknowledge_by.is_some() && contact.due_at.is_some());
    assert_eq!(json["acknowledge_by"], time(contact.acknowledge_by));
    assert_eq!(json["due_at"], time(contact.due_at));
    let types: Vec<&str> = reply.history.iter().map(|h| h.event.kind.name()).collect();
    assert_eq!(
        types,
        [
            "contact_created",
            "complaint_stage_changed",
            // Nobody is logged in: the complaint is recorded unservable.
            "contact_unservable",
            "due_time_extended"
        ]
    );
}

fn with_channels(agent: &str, skill: &str, channels: &[(Channel, u8)]) -> Command {
    let mut capacity = switchboard_core::PerChannel::splat(0);
    for &(channel, n) in channels {
        capacity.set(channel, n);
    }
    match login(agent, skill) {
        Command::LoginAgent(mut login) => {
            login.channels = Some(capacity);
            Command::LoginAgent(login)
        }
        _ => unreachable!("login builds a login"),
    }
}

fn stage_2(contact: &str, agent: Option<&str>) -> Command {
    Command::ChangeComplaintStage {
        contact: contact.into(),
        agent: agent.map(Into::into),
        to: switchboard_core::ComplaintStage::Stage2,
        reason: "dissatisfied with the stage 1 response".into(),
        received_at: None,
        due_at: None,
    }
}

fn complaint(id: &str, channel: Channel) -> Command {
    let mut contact = NewContact::routine(id, channel, "planning");
    contact.complaint_stage = Some(switchboard_core::ComplaintStage::Stage1);
    Command::CreateContact(Box::new(contact))
}

/// A centre where cara (customer relations: one call, five emails at once) is ready.
fn cara_ready() -> Centre {
    let mut centre = new_centre();
    let both = [(Channel::Phone, 1), (Channel::Email, 5)];
    run(
        &mut centre,
        &with_channels("cara", "customer_relations", &both),
    );
    run(&mut centre, &ready("cara"));
    centre
}

/// A complaint call `id` arrives and cara accepts it.
fn handle_call(centre: &mut Centre, id: &str) {
    run(centre, &complaint(id, Channel::Phone));
    let offer = centre.router.state().offers().next().map(|o| o.id);
    let accept = Command::AcceptOffer {
        agent: "cara".into(),
        offer: offer.expect("offered to cara"),
    };
    run(centre, &accept);
}

#[test]
fn a_complaint_stage_reply_says_where_the_complaint_went_whatever_the_channel() {
    // One rule: `status` is where the complaint stands when the command moved it (off its
    // agent's desk, and wherever routing then put it), `null` only when it did not move.
    let mut centre = cara_ready();

    // A call being handled: back in the queue, its agent in wrap-up, nobody else free.
    handle_call(&mut centre, "call-1");
    let command = stage_2("call-1", Some("cara"));
    let events = run(&mut centre, &command);
    let body = reply_body(&command, refs(&events));
    assert_eq!(body.status, Some(ContactStatusName::Queued), "{body:?}");
    assert_eq!((body.agent_id, body.offer_id), (None, None));
    assert_eq!(body.presence, Some(PresenceName::WrapUp));
    assert!(!body.unchanged);

    // An email being handled: off her desk and, email having no wrap-up, straight back to her
    // (the only one free) at its new stage; the reply says so.
    let mut centre = cara_ready();
    run(&mut centre, &complaint("mail-1", Channel::Email));
    let command = stage_2("mail-1", Some("cara"));
    let events = run(&mut centre, &command);
    let body = reply_body(&command, refs(&events));
    assert_eq!(body.status, Some(ContactStatusName::Assigned), "{body:?}");
    assert_eq!(body.agent_id.as_deref(), Some("cara"));
    assert_eq!(body.presence, None, "no wrap-up on email");

    // A waiting complaint moves on in place: `null`, whoever is named.
    let mut centre = new_centre();
    run(&mut centre, &login("dan", "planning"));
    run(&mut centre, &complaint("mail-2", Channel::Email));
    run(&mut centre, &complaint("mail-3", Channel::Email));
    for (contact, agent) in [("mail-2", None), ("mail-3", Some("dan"))] {
        let command = stage_2(contact, agent);
        let events = run(&mut centre, &command);
        let body = reply_body(&command, refs(&events));
        assert_eq!(body.contact_id.as_deref(), Some(contact));
        assert_eq!(body.status, None, "{body:?}");
        assert_eq!((body.events, body.presence), (1, None));
    }
}

/// The `released` notices among `events`, with the agent each is for.
fn released(events: &[(u64, Event)]) -> Vec<(AgentId, switchboard_wire::offer::ReleasedNotice)> {
    events
        .iter()
        .flat_map(|(_, e)| agent_notices(e))
        .filter_map(|(agent, notice)| match notice {
            AgentNotice::Released(released) => Some((agent, released)),
            _ => None,
        })
        .collect()
}

#[test]
fn work_that_leaves_an_agents_desk_tells_their_desktop_why() {
    let mut centre = cara_ready();
    handle_call(&mut centre, "call-1");

    // The complaint in her hand moves on a stage: her desktop is told it left, and why.
    let events = run(&mut centre, &stage_2("call-1", Some("cara")));
    let notices = released(&events);
    assert_eq!(notices.len(), 1, "{notices:?}");
    let (agent, notice) = &notices[0];
    assert_eq!(agent, &AgentId::from("cara"));
    assert_eq!(notice.contact_id, "call-1");
    assert_eq!(notice.reason, "complaint_stage_changed");
    let json = AgentNotice::Released(notice.clone())
        .encode(Format::Json)
        .expect("ok");
    assert_eq!(
        String::from_utf8(json).expect("UTF-8"),
        r#"{"contact_id":"call-1","reason":"complaint_stage_changed","at":"2026-11-23T09:00:00.000Z"}"#
    );

    // An email in hand (assigned automatically) when she logs out: told too.
    let mut centre = cara_ready();
    run(&mut centre, &complaint("mail-1", Channel::Email));
    let logout = Command::LogoutAgent {
        agent: "cara".into(),
        force: true,
    };
    let events = run(&mut centre, &logout);
    let notices = released(&events);
    let held: Vec<_> = notices
        .iter()
        .map(|(agent, n)| (agent.as_str(), n.contact_id.as_str(), n.reason.as_str()))
        .collect();
    assert_eq!(held, [("cara", "mail-1", "agent_logged_out")]);

    // A waiting complaint moved on in place left nobody's desk: no notice, even naming an agent.
    let mut centre = new_centre();
    run(&mut centre, &login("dan", "planning"));
    run(&mut centre, &complaint("mail-2", Channel::Email));
    let events = run(&mut centre, &stage_2("mail-2", Some("dan")));
    assert_eq!(released(&events), []);
}

#[test]
fn a_presence_command_that_changes_nothing_says_so_and_records_nothing() {
    let mut centre = new_centre();
    run(&mut centre, &login("ann", "council_tax"));
    let not_ready = |reason: &str| Command::MakeNotReady {
        agent: "ann".into(),
        reason: reason.into(),
    };
    let events = run(&mut centre, &not_ready("break"));
    let body = reply_body(&not_ready("break"), refs(&events));
    assert_eq!(body.presence, Some(PresenceName::NotReady));
    assert!(!body.unchanged);
    let events = run(&mut centre, &not_ready("break"));
    let body = reply_body(&not_ready("break"), refs(&events));
    assert!(body.unchanged, "{body:?}");
    assert_eq!((body.seq, body.events, body.presence), (0, 0, None));
    let json: serde_json::Value =
        serde_json::from_slice(&encode_reply(&Reply::Ok(body), Format::Json)).expect("JSON");
    assert_eq!(json["unchanged"], true);
    let events = run(&mut centre, &not_ready("training"));
    assert!(!reply_body(&not_ready("training"), refs(&events)).unchanged);

    run(&mut centre, &ready("ann"));
    let events = run(&mut centre, &ready("ann"));
    let body = reply_body(&ready("ann"), refs(&events));
    assert!(body.unchanged);

    // Ready during wrap-up ends it: a change, reported as ready.
    run(&mut centre, &call("c1", "council_tax"));
    let offer = centre.router.state().offers().next().map(|o| o.id);
    run(
        &mut centre,
        &Command::AcceptOffer {
            agent: "ann".into(),
            offer: offer.expect("offered to ann"),
        },
    );
    run(
        &mut centre,
        &Command::CompleteContact {
            agent: "ann".into(),
            contact: "c1".into(),
            outcome: Outcome::Resolved,
        },
    );
    later(&mut centre, 5_000);
    let events = run(&mut centre, &ready("ann"));
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].1.kind.name(), "wrap_up_ended");
    let body = reply_body(&ready("ann"), refs(&events));
    assert_eq!(body.presence, Some(PresenceName::Ready));
    assert!(!body.unchanged);
    let notices = agent_notices(&events[0].1);
    assert_eq!(notices.len(), 1, "one state notice: ready");
}

#[test]
fn a_reply_with_unchanged_is_read_by_a_client_built_before_it() {
    // The reply body as it was before `unchanged`, in the same order.
    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct BodyBefore {
        seq: u64,
        events: u32,
        contact_id: Option<String>,
        status: Option<ContactStatusName>,
        agent_id: Option<String>,
        offer_id: Option<u64>,
        presence: Option<PresenceName>,
    }
    let body = switchboard_wire::ReplyBody {
        unchanged: true,
        presence: Some(PresenceName::Ready),
        ..Default::default()
    };
    let bytes = encode_reply(&Reply::Ok(body), Format::Postcard);
    let before: Result<BodyBefore, WireError> =
        postcard::from_bytes(&bytes).expect("an older postcard reader reads it");
    assert_eq!(before.map(|b| b.presence), Ok(Some(PresenceName::Ready)));
    // And a JSON reply from an engine before it reads as `false`.
    let old = br#"{"ok":true,"seq":2,"events":1,"contact_id":null,"status":null,"agent_id":null,"offer_id":null,"presence":"ready"}"#;
    match decode_reply(old, Format::Json) {
        Ok(Reply::Ok(body)) => assert!(!body.unchanged),
        other => panic!("not read: {other:?}"),
    }
}

#[test]
fn a_create_reply_says_when_the_contact_counts_from_and_what_was_adjusted() {
    use switchboard_wire::AdjustmentReason;
    let hour = 3_600_000;
    let mut centre = new_centre();
    later(&mut centre, 3 * hour);
    let now = centre.now.as_millis();
    let json = |body: &switchboard_wire::ReplyBody| -> serde_json::Value {
        serde_json::from_slice(&encode_reply(&Reply::Ok(body.clone()), Format::Json)).expect("JSON")
    };
    let create = |id: &str, channel: Channel, received_at: Option<u64>| {
        let mut contact = NewContact::routine(id, channel, "council_tax");
        contact.received_at = received_at.map(Timestamp::from_millis);
        Command::CreateContact(Box::new(contact))
    };

    // As given: no adjustment, and the reply says what it counts from.
    let asked = create("c1", Channel::Phone, Some(now - 10 * 60_000));
    let body = reply_body(&asked, refs(&run(&mut centre, &asked)));
    assert_eq!(body.received_at.map(|t| t.0), Some(now - 10 * 60_000));
    assert!(body.adjustments.is_empty());
    assert_eq!(json(&body)["adjustments"], serde_json::json!([]));

    // Two hours back on the phone: counted from an hour back, and the reply says so.
    let asked = create("c2", Channel::Phone, Some(now - 2 * hour));
    let body = reply_body(&asked, refs(&run(&mut centre, &asked)));
    assert_eq!(body.received_at.map(|t| t.0), Some(now - hour));
    assert_eq!(body.adjustments.len(), 1);
    assert_eq!(body.adjustments[0].field, "received_at");
    assert_eq!(
        body.adjustments[0].reason,
        AdjustmentReason::BeyondLiveLimit
    );
    let reply = json(&body);
    assert_eq!(reply["received_at"], "2026-11-23T11:00:00.000Z");
    assert_eq!(reply["adjustments"][0]["reason"], "beyond_live_limit");
    let message = reply["adjustments"][0]["message"].as_str().expect("text");
    assert!(
        message.contains("2026-11-23T10:00:00.000Z") && message.contains("60 minutes"),
        "{message}"
    );

    // Two hours back by email: deferred work counts from any earlier time, as given.
    let asked = create("e1", Channel::Email, Some(now - 2 * hour));
    let body = reply_body(&asked, refs(&run(&mut centre, &asked)));
    assert_eq!(body.received_at.map(|t| t.0), Some(now - 2 * hour));
    assert!(body.adjustments.is_empty());

    // Two hours ahead: counted from now.
    let asked = create("c3", Channel::Chat, Some(now + 2 * hour));
    let body = reply_body(&asked, refs(&run(&mut centre, &asked)));
    assert_eq!(body.received_at.map(|t| t.0), Some(now));
    assert_eq!(body.adjustments[0].reason, AdjustmentReason::InTheFuture);
    assert_eq!(json(&body)["adjustments"][0]["reason"], "in_the_future");

    // Without received_at: now, nothing adjusted. Other commands: null.
    let asked = create("c4", Channel::Phone, None);
    let body = reply_body(&asked, refs(&run(&mut centre, &asked)));
    assert_eq!(body.received_at.map(|t| t.0), Some(now));
    assert!(body.adjustments.is_empty());
    let abandon = Command::AbandonContact {
        contact: "c4".into(),
    };
    let body = reply_body(&abandon, refs(&run(&mut centre, &abandon)));
    assert_eq!(body.received_at, None);
    assert_eq!(json(&body)["received_at"], serde_json::Value::Null);

    // The fields are additive: both formats round-trip them.
    let asked = create("c5", Channel::Phone, Some(now + hour));
    let body = reply_body(&asked, refs(&run(&mut centre, &asked)));
    assert_round_trips(&body);
}

#[test]
fn a_stage_change_reply_says_when_its_clock_starts_and_a_future_receipt_is_now() {
    use switchboard_wire::AdjustmentReason;
    let mut centre = new_centre();
    let mut letter = NewContact::routine("e1", Channel::Email, "housing");
    letter.complaint_stage = Some(switchboard_core::ComplaintStage::Stage1);
    run(&mut centre, &Command::CreateContact(Box::new(letter)));
    later(&mut centre, 60_000);
    let now = centre.now.as_millis();
    let change = Command::ChangeComplaintStage {
        contact: "e1".into(),
        agent: None,
        to: switchboard_core::ComplaintStage::Stage2,
        reason: "the customer asked".into(),
        received_at: Some(Timestamp::from_millis(now + 86_400_000)),
        due_at: None,
    };
    let body = reply_body(&change, refs(&run(&mut centre, &change)));
    assert_eq!(body.received_at.map(|t| t.0), Some(now));
    assert_eq!(body.adjustments.len(), 1);
    assert_eq!(body.adjustments[0].reason, AdjustmentReason::InTheFuture);
}
