//! Routing by the statutory clock, on real dates: opening hours and the out-of-hours treatments,
//! due times in working days, at-risk warnings in working hours, and the complaint lifecycle
//! (stages, extensions, persistent complainants).
//!
//! Every instant here is a real one in Europe/London, written as local wall-clock time; the
//! expected event lists (`expect-test` snapshots) print instants in UTC. The council calendar is
//! Monday to Thursday 08:30–17:00, Friday 08:30–16:30, closed on England and Wales bank holidays.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Centre, needs};
use expect_test::expect;
use switchboard_calendar::BusinessCalendar;
use switchboard_core::state::ContactStatus;
use switchboard_core::{
    Channel, Command, ComplaintStage, DueWarning, EventKind, NewContact, OpeningRule, OutOfHours,
    RejectionCode, RoutingConfig, SkillRequirement, Timestamp,
};

/// The instant of a wall-clock time in London, e.g. `"2026-12-24T17:05"`.
fn london(local: &str) -> Timestamp {
    let at = local
        .parse::<jiff::civil::DateTime>()
        .and_then(|dt| dt.in_tz("Europe/London"))
        .expect("a valid London time");
    Timestamp::from_millis(u64::try_from(at.timestamp().as_millisecond()).expect("after 1970"))
}

fn rule(site: Option<&str>, channel: Channel, out_of_hours: OutOfHours) -> OpeningRule {
    OpeningRule {
        site: site.map(Into::into),
        channel: Some(channel),
        calendar_name: "council".into(),
        calendar: Arc::new(BusinessCalendar::council_default()),
        out_of_hours: Some(out_of_hours),
    }
}

/// The council's rules: phones refuse out of hours (but the Riverside office offers a
/// callback), chat holds until opening, callbacks are only made in opening hours; emails are
/// due in 2 working days and at risk 4 working hours before.
fn council() -> RoutingConfig {
    let mut config = RoutingConfig {
        opening: vec![
            rule(None, Channel::Phone, OutOfHours::Refuse),
            rule(Some("riverside"), Channel::Phone, OutOfHours::Callback),
            rule(None, Channel::Chat, OutOfHours::Hold),
            rule(None, Channel::Callback, OutOfHours::Hold),
        ],
        due_warning: DueWarning::WorkingTime(Duration::from_secs(4 * 3600)),
        ..RoutingConfig::default()
    };
    let mut email = config.channels.get(Channel::Email);
    email.due_working_days = Some(2);
    config.channels.set(Channel::Email, email);
    config
}

fn centre_at(local: &str) -> Centre {
    Centre::starting_at(council(), london(local))
}

fn complaint(id: &str, customer: &str) -> NewContact {
    let mut contact = NewContact::routine(id, Channel::Email, "planning");
    contact.customer = Some(customer.into());
    contact.complaint_stage = Some(ComplaintStage::Stage1);
    contact
}

#[test]
fn a_call_on_christmas_eve_after_five_is_refused_naming_the_opening_after_the_bank_holidays() {
    // Thursday 24 December 2026, 17:05. Friday 25th is Christmas Day, Monday 28th the substitute
    // Boxing Day: the phones next open at 08:30 on Tuesday 29 December.
    let mut centre = centre_at("2026-12-24T17:05");
    centre.staff("ann", 1, "hq", &[("council_tax", 3)]);
    centre.events();
    let rejection = centre
        .try_command(Command::CreateContact(Box::new(NewContact::routine(
            "c1",
            Channel::Phone,
            "council_tax",
        ))))
        .expect_err("closed");
    assert_eq!(rejection.code, RejectionCode::Closed);
    assert_eq!(rejection.opens_at, Some(london("2026-12-29T08:30")));
    assert_eq!(
        rejection.message,
        "phone is closed (calendar council); it opens at 2026-12-29T08:30:00Z"
    );
    assert!(centre.state().contact("c1").is_none(), "nothing recorded");
    assert_eq!(centre.events(), "", "a refusal records nothing");
    // At 16:59 the same call is taken.
    let mut centre = centre_at("2026-12-24T16:59");
    centre.staff("ann", 1, "hq", &[("council_tax", 3)]);
    centre.call("c1", "council_tax");
    assert!(centre.state().contact("c1").is_some());
}

#[test]
fn without_opening_rules_every_channel_is_always_open() {
    // Sunday 3 January 2027 at 03:00, the default configuration: no calendar, no refusal.
    let mut centre = Centre::starting_at(RoutingConfig::default(), london("2027-01-03T03:00"));
    centre.staff("ann", 1, "hq", &[("council_tax", 3)]);
    centre.call("c1", "council_tax");
    assert_eq!(
        centre.state().contact("c1").map(|c| c.status.as_str()),
        Some("offered")
    );
}

#[test]
fn a_chat_at_1631_on_a_friday_is_held_until_monday_and_then_queued_first() {
    // Friday 5 June 2026 (BST): the Friday close is 16:30. A chat at 16:31 waits for Monday
    // 08:30; its service level counts from the opening, not from Friday.
    let mut centre = centre_at("2026-06-05T16:31");
    centre.login("ann", 1, "hq", &[("benefits", 3)]);
    centre.arrive(NewContact::routine("chat-1", Channel::Chat, "benefits"));
    centre.ready("ann");
    assert_eq!(
        centre.state().contact("chat-1").map(|c| c.status.as_str()),
        Some("held"),
        "not offered while closed, even to a ready agent"
    );
    centre.advance_to(london("2026-06-08T08:30"));
    expect![[r#"
        2026-06-05T15:31:00Z agent_logged_in agent=ann tier 1 site=hq skills=benefits:3
        2026-06-05T15:31:00Z contact_created contact=chat-1 chat service=benefits skills=benefits:1 step=0
        2026-06-05T15:31:00Z contact_held contact=chat-1 until=2026-06-08T07:30:00Z calendar=council
        2026-06-05T15:31:00Z agent_ready agent=ann
        2026-06-08T07:30:00Z contact_released contact=chat-1 step=0
        2026-06-08T07:30:00Z offer_made offer=1 contact=chat-1 agent=ann expires=2026-06-08T07:30:30Z plan=default/0:matched rule=longest_idle pool=1 examined=1 score=230340000"#]].assert_eq(&centre.dated_events());
    let c = centre.state().contact("chat-1").expect("live");
    assert_eq!(c.answer_by, Some(london("2026-06-08T08:31")));
    centre.assert_replay_equal();
}

#[test]
fn a_held_contact_can_be_abandoned() {
    let mut centre = centre_at("2026-06-06T10:00");
    centre.arrive(NewContact::routine("chat-1", Channel::Chat, "benefits"));
    centre.abandon("chat-1");
    assert!(centre.state().contact("chat-1").is_none());
    assert!(centre.state().finished_contact("chat-1").is_some());
    centre.advance_to(london("2026-06-08T09:00"));
    assert!(
        !centre.dated_events().contains("contact_released"),
        "its hold timer went with it"
    );
    centre.assert_replay_equal();
}

#[test]
fn a_call_at_midnight_to_riverside_becomes_a_callback_made_after_opening() {
    // Midnight between Monday 1 and Tuesday 2 June 2026 (BST). Riverside's phones offer a
    // callback: the call is recorded as a callback request, held until 08:30 Tuesday, due four
    // hours after the opening.
    let mut centre = centre_at("2026-06-02T00:00");
    let mut call = NewContact::routine("c1", Channel::Phone, "housing");
    call.site = Some("riverside".into());
    centre.arrive(call);
    centre.staff("ann", 1, "riverside", &[("housing", 3)]);
    centre.advance_to(london("2026-06-02T08:30"));
    expect![[r#"
        2026-06-01T23:00:00Z contact_created contact=c1 callback service=housing skills=housing:1 site=riverside step=0
        2026-06-01T23:00:00Z contact_held contact=c1 until=2026-06-02T07:30:00Z calendar=council
        2026-06-01T23:00:00Z agent_logged_in agent=ann tier 1 site=riverside skills=housing:3
        2026-06-01T23:00:00Z agent_ready agent=ann
        2026-06-02T07:30:00Z contact_released contact=c1 step=0
        2026-06-02T07:30:00Z offer_made offer=1 contact=c1 agent=ann expires=2026-06-02T07:30:30Z plan=default/0:matched rule=longest_idle pool=1 examined=1 score=30600000"#]].assert_eq(&centre.dated_events());
    let c = centre.state().contact("c1").expect("live");
    assert_eq!(c.channel, Channel::Callback);
    assert_eq!(c.due_at, Some(london("2026-06-02T12:30")));
    assert!(
        c.attributes
            .iter()
            .any(|(k, v)| &**k == "requested_on" && &**v == "phone")
    );
    centre.assert_replay_equal();
}

#[test]
fn an_email_over_easter_2027_is_due_in_two_working_days_and_at_risk_four_working_hours_before() {
    // Thursday 25 March 2027, 16:00 GMT. Good Friday (26th) and Easter Monday (29th) are bank
    // holidays, and the clocks go forward on Sunday 28th: day one is Tuesday 30 March, day two
    // Wednesday 31 March, so it is due at 17:00 BST that Wednesday and at risk at 13:00 BST.
    let mut centre = centre_at("2027-03-25T16:00");
    centre.arrive(NewContact::routine("mail-1", Channel::Email, "planning"));
    let c = centre.state().contact("mail-1").expect("live");
    assert_eq!(c.due_at, Some(london("2027-03-31T17:00")));
    assert_eq!(c.due_warning_at, Some(london("2027-03-31T13:00")));
    centre.advance_to(london("2027-04-01T09:00"));
    expect![[r#"
        2027-03-25T16:00:00Z contact_created contact=mail-1 email service=planning skills=planning:1 step=0
        2027-03-25T16:00:00Z contact_unservable contact=mail-1 step=0 logged_in=0: no agent is logged in
        2027-03-25T16:00:30Z contact_step_advanced contact=mail-1 step=1
        2027-03-25T16:01:00Z contact_step_advanced contact=mail-1 step=2
        2027-03-25T16:02:00Z contact_step_advanced contact=mail-1 step=3
        2027-03-31T12:00:00Z due_time_at_risk contact=mail-1 due=2027-03-31T16:00:00Z
        2027-03-31T16:00:00Z due_time_breached contact=mail-1 due=2027-03-31T16:00:00Z"#]].assert_eq(&centre.dated_events());
}

#[test]
fn an_email_on_the_autumn_clock_change_weekend_counts_from_monday() {
    // Saturday 24 October 2026 (BST); the clocks go back on Sunday 25th. Receipt day is Monday
    // 26 October (GMT), day one Tuesday 27th, day two Wednesday 28th at 17:00 GMT.
    let mut centre = centre_at("2026-10-24T11:00");
    centre.arrive(NewContact::routine("mail-1", Channel::Email, "planning"));
    let c = centre.state().contact("mail-1").expect("live");
    assert_eq!(c.due_at, Some(london("2026-10-28T17:00")));
    assert_eq!(c.due_warning_at, Some(london("2026-10-28T13:00")));
}

#[test]
fn deferred_work_is_taken_in_due_time_order() {
    // Two emails: one received on Friday 27 March 2026 in the afternoon (due Tuesday 31st, after
    // the spring clock change), one on Thursday 26th (due Monday 30th). The earlier due goes
    // first, whatever the arrival order.
    let mut centre = centre_at("2026-03-26T10:00");
    let mut late = NewContact::routine("due-tuesday", Channel::Email, "planning");
    late.received_at = Some(london("2026-03-27T14:00"));
    centre.advance_to(london("2026-03-27T15:00"));
    centre.arrive(late);
    let mut early = NewContact::routine("due-monday", Channel::Email, "planning");
    early.received_at = Some(london("2026-03-26T10:00"));
    centre.arrive(early);
    let due = |id: &str| centre.state().contact(id).and_then(|c| c.due_at);
    assert_eq!(due("due-monday"), Some(london("2026-03-30T17:00")));
    assert_eq!(due("due-tuesday"), Some(london("2026-03-31T17:00")));
    centre.login_with_channels("ann", 1, "hq", &[("planning", 3)], &[(Channel::Email, 1)]);
    centre.ready("ann");
    let ann = centre.state().agent("ann").expect("logged in");
    let first = centre
        .state()
        .contact_by_number(ann.contacts[0])
        .map(|c| c.id.to_string());
    assert_eq!(first.as_deref(), Some("due-monday"));
}

#[test]
fn the_complaint_lifecycle_runs_on_the_statutory_clock() {
    // A stage 1 complaint by letter, received on Monday 23 November 2026 and scanned on
    // Wednesday 25th: its clock counts from the letter. Acknowledge within 5 working days
    // (Monday 30 November, 17:00) and respond within 10 working days of that (Monday 14
    // December, 17:00).
    let mut centre = centre_at("2026-11-25T09:00");
    centre.staff("pat", 1, "hq", &[("planning", 4)]);
    centre.staff("cara", 2, "hq", &[("customer_relations", 3)]);
    centre.events();
    let mut letter = complaint("cmp-1", "cust-9");
    letter.received_at = Some(london("2026-11-23T10:00"));
    centre.arrive(letter);
    let c = centre.state().contact("cmp-1").expect("live");
    assert_eq!(c.acknowledge_by, Some(london("2026-11-30T17:00")));
    assert_eq!(c.due_at, Some(london("2026-12-14T17:00")));
    // Complaints go to customer relations: Cara (auto-accepted as email), not Pat.
    let cara = centre.state().agent("cara").expect("logged in");
    assert_eq!(cara.contacts.len(), 1);

    // Cara does not respond in time: the response is at risk two working days (16 working
    // hours) before it is due, at 09:00 on Friday 11 December, and breached at 17:00 on Monday
    // 14th. In January the customer asks for stage 2 (the request came in on Tuesday 5 January
    // 2027). The stage 2 clock starts from the request: acknowledge by Tuesday 12 January,
    // respond 20 working days after that (Tuesday 9 February); the complaint goes back to the
    // queue from Cara's desk.
    centre.advance_to(london("2027-01-06T10:00"));
    centre.command(Command::ChangeComplaintStage {
        contact: "cmp-1".into(),
        agent: Some("cara".into()),
        to: ComplaintStage::Stage2,
        reason: "customer dissatisfied with the stage 1 response".into(),
        received_at: Some(london("2027-01-05T11:00")),
        due_at: None,
    });
    let c = centre.state().contact("cmp-1").expect("live");
    assert_eq!(c.complaint_stage, Some(ComplaintStage::Stage2));
    assert_eq!(c.acknowledge_by, Some(london("2027-01-12T17:00")));
    assert_eq!(c.due_at, Some(london("2027-02-09T17:00")));

    // An extension of 5 working days, explained to the customer.
    centre.advance_to(london("2027-02-01T10:00"));
    centre.command(Command::ExtendDueTime {
        contact: "cmp-1".into(),
        agent: Some("cara".into()),
        working_days: 5,
        reason: "waiting for the planning officer's site visit report".into(),
    });
    let c = centre.state().contact("cmp-1").expect("live");
    assert_eq!(c.due_at, Some(london("2027-02-16T17:00")));
    assert_eq!(c.extensions, 1);

    // The customer goes to the Ombudsman, who asks for the council's file within 20 days.
    centre.advance_to(london("2027-03-01T10:00"));
    let holder = centre
        .state()
        .contact("cmp-1")
        .and_then(|c| match c.status {
            ContactStatus::Assigned { agent, .. } => {
                Some(centre.state().agent_at(agent).id.to_string())
            }
            _ => None,
        });
    centre.command(Command::ChangeComplaintStage {
        contact: "cmp-1".into(),
        agent: holder.map(Into::into),
        to: ComplaintStage::Ombudsman,
        reason: "referred by the Local Government and Social Care Ombudsman".into(),
        received_at: None,
        due_at: Some(london("2027-03-29T17:00")),
    });
    // A stage never moves back.
    let back = centre
        .try_command(Command::ChangeComplaintStage {
            contact: "cmp-1".into(),
            agent: None,
            to: ComplaintStage::Stage2,
            reason: "oops".into(),
            received_at: None,
            due_at: None,
        })
        .expect_err("backwards");
    assert_eq!(back.code, RejectionCode::InvalidTransition);
    expect![[r#"
        2026-11-25T09:00:00Z contact_created contact=cmp-1 email service=planning skills=customer_relations:1 step=0
        2026-11-25T09:00:00Z complaint_stage_changed contact=cmp-1 none->stage_1 received=2026-11-23T10:00:00Z acknowledge_by=2026-11-30T17:00:00Z due=2026-12-14T17:00:00Z reason=received
        2026-11-25T09:00:00Z offer_made offer=1 contact=cmp-1 agent=cara expires=2026-11-25T09:05:00Z plan=default/0:matched rule=longest_idle pool=1 examined=1 score=0
        2026-11-25T09:00:00Z offer_accepted offer=1 contact=cmp-1 agent=cara automatic waited=169200000ms
        2026-12-11T09:00:00Z due_time_at_risk contact=cmp-1 due=2026-12-14T17:00:00Z
        2026-12-14T17:00:00Z due_time_breached contact=cmp-1 due=2026-12-14T17:00:00Z
        2027-01-06T10:00:00Z contact_requeued contact=cmp-1 agent=cara reason=complaint_stage_changed
        2027-01-06T10:00:00Z complaint_stage_changed contact=cmp-1 stage_1->stage_2 received=2027-01-05T11:00:00Z acknowledge_by=2027-01-12T17:00:00Z due=2027-02-09T17:00:00Z reason=customer dissatisfied with the stage 1 response
        2027-01-06T10:00:00Z offer_made offer=2 contact=cmp-1 agent=cara expires=2027-01-06T10:05:00Z plan=default/0:matched rule=longest_idle pool=1 examined=1 score=0
        2027-01-06T10:00:00Z offer_accepted offer=2 contact=cmp-1 agent=cara automatic waited=3801600000ms
        2027-02-01T10:00:00Z due_time_extended contact=cmp-1 due=2027-02-16T17:00:00Z (was 2027-02-09T17:00:00Z) working_days=5 reason=waiting for the planning officer's site visit report
        2027-02-15T09:30:00Z due_time_at_risk contact=cmp-1 due=2027-02-16T17:00:00Z
        2027-02-16T17:00:00Z due_time_breached contact=cmp-1 due=2027-02-16T17:00:00Z
        2027-03-01T10:00:00Z contact_requeued contact=cmp-1 agent=cara reason=complaint_stage_changed
        2027-03-01T10:00:00Z complaint_stage_changed contact=cmp-1 stage_2->ombudsman received=2027-03-01T10:00:00Z due=2027-03-29T16:00:00Z reason=referred by the Local Government and Social Care Ombudsman
        2027-03-01T10:00:00Z offer_made offer=3 contact=cmp-1 agent=cara expires=2027-03-01T10:05:00Z plan=default/0:matched rule=longest_idle pool=1 examined=1 score=0
        2027-03-01T10:00:00Z offer_accepted offer=3 contact=cmp-1 agent=cara automatic waited=8467200000ms"#]].assert_eq(&centre.dated_events());
    centre.assert_replay_equal();
}

#[test]
fn a_persistent_complainants_complaints_go_only_to_designated_officers() {
    let mut centre = centre_at("2026-12-23T10:00");
    centre.login_with_channels(
        "cara",
        2,
        "hq",
        &[("customer_relations", 3)],
        &[(Channel::Email, 5)],
    );
    centre.ready("cara");
    centre.login_with_channels(
        "dev",
        2,
        "hq",
        &[("customer_relations", 3), ("designated_officer", 1)],
        &[(Channel::Email, 5)],
    );
    centre.command(Command::MarkPersistentComplainant {
        customer: "cust-7".into(),
        designated: true,
        reason: "unreasonable contact policy decision of 22 December 2026".into(),
    });
    centre.arrive(complaint("cmp-1", "cust-7"));
    let c = centre.state().contact("cmp-1").expect("live");
    assert_eq!(
        c.status.as_str(),
        "queued",
        "Cara is not a designated officer"
    );
    // Received Wednesday 23 December 2026: 5 working days over Christmas and New Year (24, 29,
    // 30, 31 December, then 4 January, after the New Year's Day bank holiday) is Monday 4
    // January; the response 10 working days after that, Monday 18 January.
    assert_eq!(c.acknowledge_by, Some(london("2027-01-04T17:00")));
    assert_eq!(c.due_at, Some(london("2027-01-18T17:00")));
    centre.ready("dev");
    assert_eq!(
        centre.state().contact("cmp-1").map(|c| c.status.as_str()),
        Some("assigned")
    );
    // Lifted: the next complaint goes to whoever is free in customer relations.
    centre.command(Command::MarkPersistentComplainant {
        customer: "cust-7".into(),
        designated: false,
        reason: "review of 4 January 2027".into(),
    });
    centre.arrive(complaint("cmp-2", "cust-7"));
    let needs_officer = centre
        .state()
        .contact("cmp-2")
        .is_some_and(|c| c.profile.skills.len() > 1);
    assert!(
        !needs_officer,
        "no designated-officer requirement once lifted"
    );
    assert_eq!(
        centre.state().contact("cmp-2").map(|c| c.status.as_str()),
        Some("assigned")
    );
    centre.assert_replay_equal();
}

/// Who holds the contact now (offered or assigned), if anyone.
fn holder(centre: &Centre, contact: &str) -> Option<String> {
    let state = centre.state();
    match state.contact(contact)?.status {
        ContactStatus::Offered { agent, .. } | ContactStatus::Assigned { agent, .. } => {
            Some(state.agent_at(agent).id.to_string())
        }
        ContactStatus::Queued | ContactStatus::Held { .. } => None,
    }
}

/// The skills the contact's latest transfer gave it.
fn transferred_skills(centre: &Centre, contact: &str) -> Vec<SkillRequirement> {
    centre
        .log
        .iter()
        .rev()
        .find_map(|e| match &e.kind {
            EventKind::ContactTransferred {
                contact: c, skills, ..
            } if c.as_str() == contact => Some(skills.clone()),
            _ => None,
        })
        .expect("the contact was transferred")
}

/// A persistent complainant's complaint with Dev, a designated officer, who has gone not ready;
/// Cara (customer relations and housing, no designated officer) is free for email.
fn persistent_complaint_with_dev() -> Centre {
    let mut centre = centre_at("2027-01-11T10:00");
    let email = &[(Channel::Email, 5)];
    centre.login_with_channels(
        "dev",
        2,
        "hq",
        &[("customer_relations", 3), ("designated_officer", 1)],
        email,
    );
    centre.command(Command::MarkPersistentComplainant {
        customer: "cust-7".into(),
        designated: true,
        reason: "unreasonable contact policy decision of 8 January 2027".into(),
    });
    centre.arrive(complaint("cmp-1", "cust-7"));
    centre.ready("dev");
    assert_eq!(holder(&centre, "cmp-1").as_deref(), Some("dev"));
    centre.not_ready("dev", "site visit");
    centre.login_with_channels(
        "cara",
        2,
        "hq",
        &[("customer_relations", 3), ("housing", 3)],
        email,
    );
    centre.ready("cara");
    centre
}

#[test]
fn a_transferred_persistent_complainants_complaint_goes_only_to_designated_officers() {
    // A transfer replaces the contact's skills. A complaint keeps the complaint policy's, so a
    // persistent complainant's complaint passed to housing does not go to Cara, who is free and
    // has the housing skill but is no designated officer.
    let mut centre = persistent_complaint_with_dev();
    centre.command(Command::TransferContact {
        agent: "dev".into(),
        contact: "cmp-1".into(),
        service: "housing".into(),
        skills: vec![needs("housing", 2)],
    });
    assert_eq!(
        transferred_skills(&centre, "cmp-1"),
        vec![
            needs("customer_relations", 1),
            needs("designated_officer", 1),
            needs("housing", 2)
        ]
    );
    assert_eq!(
        holder(&centre, "cmp-1"),
        None,
        "Cara is not a designated officer"
    );
    centre.login_with_channels(
        "erin",
        2,
        "hq",
        &[
            ("customer_relations", 3),
            ("designated_officer", 1),
            ("housing", 3),
        ],
        &[(Channel::Email, 5)],
    );
    centre.ready("erin");
    assert_eq!(holder(&centre, "cmp-1").as_deref(), Some("erin"));
    centre.assert_replay_equal();
}

#[test]
fn a_complaint_transferred_without_naming_skills_needs_what_a_new_complaint_needs() {
    // With no skills named, a transfer would default to the new service's own skill; a complaint
    // instead needs what creation gives it: customer relations and, for a persistent
    // complainant, the designated officers.
    let mut centre = persistent_complaint_with_dev();
    centre.command(Command::TransferContact {
        agent: "dev".into(),
        contact: "cmp-1".into(),
        service: "housing".into(),
        skills: vec![],
    });
    assert_eq!(
        transferred_skills(&centre, "cmp-1"),
        vec![
            needs("customer_relations", 1),
            needs("designated_officer", 1)
        ]
    );
    assert_eq!(
        holder(&centre, "cmp-1"),
        None,
        "Cara is not a designated officer"
    );
    centre.assert_replay_equal();
}

#[test]
fn a_designation_made_after_a_complaint_was_received_applies_to_new_complaints_only() {
    // Creation judges the designation when a complaint is received; a designation made later
    // neither restricts the open complaint when it moves on a stage nor when it is transferred,
    // and the customer's next complaint is restricted.
    let mut centre = centre_at("2027-01-11T10:00");
    let email = &[(Channel::Email, 5)];
    centre.login_with_channels("cara", 2, "hq", &[("customer_relations", 3)], email);
    centre.arrive(complaint("cmp-1", "cust-7"));
    centre.command(Command::MarkPersistentComplainant {
        customer: "cust-7".into(),
        designated: true,
        reason: "unreasonable contact policy decision of 11 January 2027".into(),
    });
    centre.command(Command::ChangeComplaintStage {
        contact: "cmp-1".into(),
        agent: None,
        to: ComplaintStage::Stage2,
        reason: "customer dissatisfied with the stage 1 response".into(),
        received_at: None,
        due_at: None,
    });
    centre.ready("cara");
    assert_eq!(holder(&centre, "cmp-1").as_deref(), Some("cara"));
    centre.command(Command::TransferContact {
        agent: "cara".into(),
        contact: "cmp-1".into(),
        service: "planning".into(),
        skills: vec![],
    });
    assert_eq!(
        transferred_skills(&centre, "cmp-1"),
        vec![needs("customer_relations", 1)]
    );
    centre.arrive(complaint("cmp-2", "cust-7"));
    let needs_officer = centre.state().contact("cmp-2").is_some_and(|c| {
        centre
            .state()
            .skill_number("designated_officer")
            .is_some_and(|officer| c.profile.skills.iter().any(|&(s, _)| s == officer))
    });
    assert!(needs_officer, "the next complaint is restricted");
    centre.assert_replay_equal();
}

#[test]
fn complaint_and_extension_commands_refuse_what_they_cannot_do() {
    let mut centre = centre_at("2026-12-01T10:00");
    centre.arrive(NewContact::routine("call-1", Channel::Callback, "housing"));
    centre.arrive(NewContact::routine("mail-1", Channel::Email, "housing"));
    let mut live = NewContact::routine("chat-1", Channel::Chat, "housing");
    live.skills = vec![needs("housing", 2)];
    centre.arrive(live);
    let code = |centre: &mut Centre, command: Command| {
        centre.try_command(command).map_err(|r| r.code).err()
    };
    let stage = |contact: &str| Command::ChangeComplaintStage {
        contact: contact.into(),
        agent: None,
        to: ComplaintStage::Stage2,
        reason: "asked".into(),
        received_at: None,
        due_at: None,
    };
    let extend = |contact: &str, days: u32, reason: &str| Command::ExtendDueTime {
        contact: contact.into(),
        agent: None,
        working_days: days,
        reason: reason.into(),
    };
    assert_eq!(
        code(&mut centre, stage("mail-1")),
        Some(RejectionCode::InvalidTransition),
        "not a complaint"
    );
    assert_eq!(
        code(&mut centre, stage("nobody")),
        Some(RejectionCode::UnknownContact)
    );
    assert_eq!(
        code(&mut centre, extend("chat-1", 2, "busy")),
        Some(RejectionCode::InvalidTransition),
        "live work has no due time"
    );
    assert_eq!(
        code(&mut centre, extend("mail-1", 2, "  ")),
        Some(RejectionCode::InvalidCommand),
        "an extension must be explained"
    );
    assert_eq!(
        code(&mut centre, extend("mail-1", 0, "more time")),
        Some(RejectionCode::InvalidCommand),
        "at least one working day"
    );
    assert_eq!(
        code(
            &mut centre,
            Command::MarkPersistentComplainant {
                customer: "cust-1".into(),
                designated: true,
                reason: String::new().into(),
            }
        ),
        Some(RejectionCode::InvalidCommand)
    );
    // A complaint being handled is moved on only by its agent.
    centre.staff("cara", 2, "hq", &[("customer_relations", 3)]);
    centre.arrive(complaint("cmp-1", "cust-2"));
    centre.login("bob", 1, "hq", &[("housing", 1)]);
    let by = |agent: &str| {
        let mut command = stage("cmp-1");
        if let Command::ChangeComplaintStage { agent: a, .. } = &mut command {
            *a = Some(agent.into());
        }
        command
    };
    assert_eq!(
        code(&mut centre, by("bob")),
        Some(RejectionCode::NotYourOffer)
    );
    assert_eq!(
        code(&mut centre, by("nobody")),
        Some(RejectionCode::UnknownAgent)
    );
    centre.events();
    centre.assert_replay_equal();
}

#[test]
fn an_extension_that_is_still_overdue_does_not_report_the_breach_twice() {
    // An email due at 17:00 on Wednesday 2 December 2026 (2 working days after Monday 30
    // November) is still open on Friday 4 December; a one-working-day extension moves it to
    // Thursday 3rd, which has passed too: it stays breached, reported once.
    let mut centre = centre_at("2026-11-30T10:00");
    centre.arrive(NewContact::routine("mail-1", Channel::Email, "planning"));
    centre.advance_to(london("2026-12-04T10:00"));
    centre.command(Command::ExtendDueTime {
        contact: "mail-1".into(),
        agent: None,
        working_days: 1,
        reason: "awaiting a reply from the landlord".into(),
    });
    centre.advance_to(london("2026-12-04T11:00"));
    let breaches = centre
        .log
        .iter()
        .filter(|e| e.kind.name() == "due_time_breached")
        .count();
    assert_eq!(breaches, 1);
    let c = centre.state().contact("mail-1").expect("live");
    assert_eq!(c.due_at, Some(london("2026-12-03T17:00")));
    assert!(c.due_breached);
    centre.assert_replay_equal();
}

#[test]
fn a_rule_for_every_channel_with_no_treatment_refuses_calls_and_holds_emails() {
    let every_channel = OpeningRule {
        site: None,
        channel: None,
        calendar_name: "council".into(),
        calendar: Arc::new(BusinessCalendar::council_default()),
        out_of_hours: None,
    };
    let config = RoutingConfig {
        opening: vec![every_channel],
        ..RoutingConfig::default()
    };
    // Saturday morning: closed.
    let mut centre = Centre::starting_at(config, london("2026-12-05T10:00"));
    let refused = centre
        .try_command(Command::CreateContact(Box::new(NewContact::routine(
            "call",
            Channel::Phone,
            "bins",
        ))))
        .expect_err("a call out of hours is refused");
    assert_eq!(refused.code, RejectionCode::Closed);
    centre.arrive(NewContact::routine("letter", Channel::Email, "bins"));
    assert!(
        matches!(
            centre.state().contact("letter").map(|c| &c.status),
            Some(ContactStatus::Held { .. })
        ),
        "an email out of hours waits for the opening"
    );
    centre.assert_replay_equal();
}
