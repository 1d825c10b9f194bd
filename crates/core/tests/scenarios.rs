//! Scenario tests: given these agents and contacts, when this happens, then these events.
//!
//! The expected event lists are snapshots (`expect-test`): `UPDATE_EXPECT=1 cargo test` rewrites
//! them, and the diff is then read like any other change.

mod common;

use std::time::Duration;

use common::{Centre, needs};
use expect_test::expect;
use switchboard_core::{
    Channel, Command, EventKind, NAMES_MAX, NewContact, OfferId, Outcome, PlanStep, Priority,
    RejectionCode, RoutingConfig, RoutingPlan, SelectionStrategy, Tier, Timestamp,
};

#[test]
fn a_call_goes_to_the_longest_idle_skilled_agent_and_back_through_wrap_up() {
    let mut centre = Centre::new();
    centre.staff("ann", 1, "hq", &[("council_tax", 3)]);
    centre.advance(5);
    centre.staff("bob", 1, "hq", &[("council_tax", 3)]);
    centre.staff("cat", 1, "hq", &[("benefits", 3)]);
    centre.advance(5);
    centre.events();

    centre.call("c1", "council_tax");
    centre.accept("ann", 1);
    centre.advance(120);
    centre.complete("ann", "c1", Outcome::Resolved);
    centre.advance(60);
    expect![[r#"
        [   10s] contact_created contact=c1 phone service=council_tax skills=council_tax:1 step=0
        [   10s] offer_made offer=1 contact=c1 agent=ann expires=1970-01-01T00:00:25Z plan=default/0:matched rule=longest_idle pool=2 examined=1 score=10000
        [   10s] offer_accepted offer=1 contact=c1 agent=ann waited=0ms
        [  130s] contact_completed contact=c1 agent=ann outcome=resolved first_contact_resolution
        [  130s] wrap_up_started agent=ann until=1970-01-01T00:02:40Z
        [  160s] wrap_up_ended agent=ann"#]].assert_eq(&centre.events());
    assert_eq!(
        centre.state().agent("ann").map(|a| a.presence.as_str()),
        Some("ready")
    );
    centre.assert_replay_equal();
}

#[test]
fn a_queued_call_waits_for_a_skilled_agent_and_is_taken_in_queue_order() {
    let mut centre = Centre::new();
    centre.login("ann", 1, "hq", &[("benefits", 2)]);
    centre.call("c1", "benefits");
    centre.advance(3);
    centre.call("c2", "benefits");
    centre.advance(3);
    centre.ready("ann");
    expect![[r#"
        [    0s] agent_logged_in agent=ann tier 1 site=hq skills=benefits:2
        [    0s] contact_created contact=c1 phone service=benefits skills=benefits:1 step=0
        [    3s] contact_created contact=c2 phone service=benefits skills=benefits:1 step=0
        [    6s] agent_ready agent=ann
        [    6s] offer_made offer=1 contact=c1 agent=ann expires=1970-01-01T00:00:21Z plan=default/0:matched rule=queue_order pool=2 examined=1 score=6000"#]].assert_eq(&centre.events());
}

#[test]
fn safeguarding_goes_first_then_priority_then_arrival() {
    let mut centre = Centre::new();
    centre.login("ann", 2, "hq", &[("housing", 3), ("safeguarding", 2)]);
    centre.call("routine-early", "housing");
    centre.advance(10);
    let mut urgent = NewContact::routine("priority-3", Channel::Phone, "housing");
    urgent.priority = Priority::new(3).expect("valid");
    centre.arrive(urgent);
    let mut concern = NewContact::routine("safeguarding-late", Channel::Phone, "housing");
    concern.safeguarding = true;
    centre.advance(10);
    centre.arrive(concern);
    centre.call("routine-late", "housing");
    centre.events();

    let mut order = Vec::new();
    centre.ready("ann");
    for offer in 1..=4 {
        let contact = centre
            .state()
            .offer(OfferId::new(offer))
            .map(|o| o.contact)
            .expect("offered");
        let id = centre
            .state()
            .contact_by_number(contact)
            .expect("live")
            .id
            .to_string();
        centre.accept("ann", offer);
        centre.complete("ann", &id, Outcome::Resolved);
        centre.ready("ann");
        order.push(id);
    }
    assert_eq!(
        order,
        [
            "safeguarding-late",
            "priority-3",
            "routine-early",
            "routine-late"
        ]
    );
}

#[test]
fn safeguarding_never_relaxes_to_an_agent_without_the_skill() {
    let mut centre = Centre::new();
    centre.staff("untrained", 1, "hq", &[("children", 5)]);
    let mut concern = NewContact::routine("s1", Channel::Phone, "children");
    concern.safeguarding = true;
    centre.arrive(concern);
    centre.advance(600);
    assert_eq!(
        centre.state().contact("s1").map(|c| c.status.as_str()),
        Some("queued")
    );
    centre.staff("trained", 3, "hq", &[("children", 1), ("safeguarding", 1)]);
    expect![[r#"
        [    0s] agent_logged_in agent=untrained tier 1 site=hq skills=children:5
        [    0s] agent_ready agent=untrained
        [    0s] contact_created contact=s1 phone service=children skills=children:1,safeguarding:1 safeguarding step=0
        [    0s] contact_unservable contact=s1 step=0 logged_in=1: no agent with safeguarding
        [   20s] service_level_threshold_passed contact=s1 threshold=20s
        [   30s] contact_step_advanced contact=s1 step=1
        [   60s] contact_step_advanced contact=s1 step=2
        [  120s] contact_step_advanced contact=s1 step=3
        [  600s] agent_logged_in agent=trained tier 3 site=hq skills=children:1,safeguarding:1
        [  600s] agent_ready agent=trained
        [  600s] offer_made offer=1 contact=s1 agent=trained expires=1970-01-01T00:10:15Z plan=default/3:language_dropped rule=queue_order pool=1 examined=1 score=600000"#]].assert_eq(&centre.events());
}

#[test]
fn a_walk_in_stays_at_its_site_however_long_it_waits() {
    let mut centre = Centre::new();
    centre.staff("far", 1, "riverside", &[("parking", 5)]);
    let mut walk_in = NewContact::routine("w1", Channel::FaceToFace, "parking");
    walk_in.site = Some("town_hall".into());
    centre.arrive(walk_in);
    centre.advance(3600);
    assert_eq!(
        centre.state().contact("w1").map(|c| c.status.as_str()),
        Some("queued")
    );
    centre.staff("near", 1, "town_hall", &[("parking", 1)]);
    expect![[r#"
        [    0s] agent_logged_in agent=far tier 1 site=riverside skills=parking:5
        [    0s] agent_ready agent=far
        [    0s] contact_created contact=w1 face_to_face service=parking skills=parking:1 site=town_hall step=0
        [    0s] contact_unservable contact=w1 step=0 logged_in=1: no agent at town_hall
        [   30s] contact_step_advanced contact=w1 step=1
        [   60s] contact_step_advanced contact=w1 step=2
        [  120s] contact_step_advanced contact=w1 step=3
        [  900s] service_level_threshold_passed contact=w1 threshold=900s
        [ 3600s] agent_logged_in agent=near tier 1 site=town_hall skills=parking:1
        [ 3600s] agent_ready agent=near
        [ 3600s] offer_made offer=1 contact=w1 agent=near expires=1970-01-01T01:00:30Z plan=default/3:language_dropped rule=queue_order pool=1 examined=1 score=3600000"#]].assert_eq(&centre.events());

    let no_site = NewContact::routine("w2", Channel::FaceToFace, "parking");
    let refused = centre.try_command(Command::CreateContact(Box::new(no_site)));
    assert_eq!(
        refused.map_err(|r| r.code),
        Err(RejectionCode::InvalidCommand)
    );
}

#[test]
fn a_rejected_offer_keeps_its_place_and_cools_down_before_returning_to_the_same_agent() {
    let mut centre = Centre::new();
    centre.staff("ann", 1, "hq", &[("bins", 3)]);
    centre.call("c1", "bins");
    centre.reject("ann", 1);
    centre.advance(10);
    centre.staff("bob", 1, "hq", &[("bins", 3)]);
    centre.reject("bob", 2);
    centre.advance(40);
    expect![[r#"
        [    0s] agent_logged_in agent=ann tier 1 site=hq skills=bins:3
        [    0s] agent_ready agent=ann
        [    0s] contact_created contact=c1 phone service=bins skills=bins:1 step=0
        [    0s] offer_made offer=1 contact=c1 agent=ann expires=1970-01-01T00:00:15Z plan=default/0:matched rule=longest_idle pool=1 examined=1 score=0
        [    0s] offer_rejected offer=1 contact=c1 agent=ann
        [   10s] agent_logged_in agent=bob tier 1 site=hq skills=bins:3
        [   10s] agent_ready agent=bob
        [   10s] offer_made offer=2 contact=c1 agent=bob expires=1970-01-01T00:00:25Z plan=default/0:matched rule=queue_order pool=1 examined=1 score=10000
        [   10s] offer_rejected offer=2 contact=c1 agent=bob
        [   20s] service_level_threshold_passed contact=c1 threshold=20s
        [   30s] contact_step_advanced contact=c1 step=1
        [   30s] offer_made offer=3 contact=c1 agent=ann expires=1970-01-01T00:00:45Z plan=default/1:any_higher_tier rule=longest_idle pool=2 examined=1 score=30000
        [   45s] offer_expired offer=3 contact=c1 agent=ann
        [   45s] offer_made offer=4 contact=c1 agent=bob expires=1970-01-01T00:01:00Z plan=default/1:any_higher_tier rule=longest_idle pool=2 examined=2 score=35000"#]].assert_eq(&centre.events());
}

#[test]
fn an_agent_who_misses_offers_in_a_row_goes_not_ready() {
    let mut centre = Centre::new();
    centre.staff("ann", 1, "hq", &[("bins", 3)]);
    centre.call("c1", "bins");
    centre.advance(60);
    expect![[r#"
        [    0s] agent_logged_in agent=ann tier 1 site=hq skills=bins:3
        [    0s] agent_ready agent=ann
        [    0s] contact_created contact=c1 phone service=bins skills=bins:1 step=0
        [    0s] offer_made offer=1 contact=c1 agent=ann expires=1970-01-01T00:00:15Z plan=default/0:matched rule=longest_idle pool=1 examined=1 score=0
        [   15s] offer_expired offer=1 contact=c1 agent=ann
        [   20s] service_level_threshold_passed contact=c1 threshold=20s
        [   30s] contact_step_advanced contact=c1 step=1
        [   45s] offer_made offer=2 contact=c1 agent=ann expires=1970-01-01T00:01:00Z plan=default/1:any_higher_tier rule=longest_idle pool=1 examined=1 score=45000
        [   60s] offer_expired offer=2 contact=c1 agent=ann
        [   60s] agent_not_ready agent=ann reason=missed_offers
        [   60s] contact_step_advanced contact=c1 step=2"#]].assert_eq(&centre.events());
    assert_eq!(
        centre.state().agent("ann").map(|a| a.presence.as_str()),
        Some("not_ready")
    );
}

#[test]
fn abandoning_while_queued_or_offered_withdraws_the_offer_and_loses_nothing() {
    let mut centre = Centre::new();
    centre.call("queued", "tourism");
    centre.abandon("queued");
    centre.staff("ann", 1, "hq", &[("tourism", 3)]);
    centre.call("offered", "tourism");
    centre.advance(2);
    centre.abandon("offered");
    expect![[r#"
        [    0s] contact_created contact=queued phone service=tourism skills=tourism:1 step=0
        [    0s] contact_unservable contact=queued step=0 logged_in=0: no agent is logged in
        [    0s] contact_abandoned contact=queued waited=0ms
        [    0s] agent_logged_in agent=ann tier 1 site=hq skills=tourism:3
        [    0s] agent_ready agent=ann
        [    0s] contact_created contact=offered phone service=tourism skills=tourism:1 step=0
        [    0s] offer_made offer=1 contact=offered agent=ann expires=1970-01-01T00:00:15Z plan=default/0:matched rule=longest_idle pool=1 examined=1 score=0
        [    2s] offer_revoked offer=1 contact=offered agent=ann reason=contact_abandoned
        [    2s] contact_abandoned contact=offered waited=2000ms"#]].assert_eq(&centre.events());
    let again = centre.try_command(Command::AbandonContact {
        contact: "offered".into(),
    });
    assert_eq!(
        again.map_err(|r| r.code),
        Err(RejectionCode::UnknownContact)
    );
    assert_eq!(
        centre
            .state()
            .counters()
            .values()
            .map(|c| c.abandoned)
            .sum::<u64>(),
        2
    );
}

#[test]
fn escalation_climbs_a_tier_keeps_first_arrival_and_never_returns_to_the_escalating_agent() {
    let mut centre = Centre::new();
    centre.staff("rep", 1, "hq", &[("council_tax", 2)]);
    centre.staff("senior", 3, "hq", &[("council_tax", 4)]);
    centre.call("c1", "council_tax");
    centre.accept("rep", 1);
    centre.advance(30);
    centre.command(Command::EscalateContact {
        agent: "rep".into(),
        contact: "c1".into(),
        reason: "liability order query".into(),
        to_tier: None,
    });
    centre.advance(5);
    let c1 = centre.state().contact("c1").expect("live");
    assert_eq!(c1.first_arrived_at, Timestamp::EPOCH);
    assert_eq!(c1.profile.tier, Tier::new(2).expect("valid"));
    expect![[r#"
        [    0s] agent_logged_in agent=rep tier 1 site=hq skills=council_tax:2
        [    0s] agent_ready agent=rep
        [    0s] agent_logged_in agent=senior tier 3 site=hq skills=council_tax:4
        [    0s] agent_ready agent=senior
        [    0s] contact_created contact=c1 phone service=council_tax skills=council_tax:1 step=0
        [    0s] offer_made offer=1 contact=c1 agent=rep expires=1970-01-01T00:00:15Z plan=default/0:matched rule=longest_idle pool=2 examined=1 score=0
        [    0s] offer_accepted offer=1 contact=c1 agent=rep waited=0ms
        [   30s] contact_escalated contact=c1 agent=rep to=tier 2 reason=liability order query
        [   30s] wrap_up_started agent=rep until=1970-01-01T00:01:00Z
        [   30s] offer_made offer=2 contact=c1 agent=senior expires=1970-01-01T00:00:45Z plan=default/0:matched rule=longest_idle pool=1 examined=1 score=30000"#]].assert_eq(&centre.events());
    centre.accept("senior", 2);
    centre.complete("senior", "c1", Outcome::Resolved);
    expect![[r#"
        [   35s] offer_accepted offer=2 contact=c1 agent=senior waited=35000ms outside_service_level
        [   35s] contact_completed contact=c1 agent=senior outcome=resolved
        [   35s] wrap_up_started agent=senior until=1970-01-01T00:01:05Z"#]]
    .assert_eq(&centre.events());
}

#[test]
fn a_transfer_requeues_for_the_new_service() {
    let mut centre = Centre::new();
    centre.staff("ann", 1, "hq", &[("council_tax", 3)]);
    centre.staff("bob", 1, "hq", &[("benefits", 3)]);
    centre.call("c1", "council_tax");
    centre.accept("ann", 1);
    centre.command(Command::TransferContact {
        agent: "ann".into(),
        contact: "c1".into(),
        service: "benefits".into(),
        skills: vec![],
    });
    expect![[r#"
        [    0s] agent_logged_in agent=ann tier 1 site=hq skills=council_tax:3
        [    0s] agent_ready agent=ann
        [    0s] agent_logged_in agent=bob tier 1 site=hq skills=benefits:3
        [    0s] agent_ready agent=bob
        [    0s] contact_created contact=c1 phone service=council_tax skills=council_tax:1 step=0
        [    0s] offer_made offer=1 contact=c1 agent=ann expires=1970-01-01T00:00:15Z plan=default/0:matched rule=longest_idle pool=1 examined=1 score=0
        [    0s] offer_accepted offer=1 contact=c1 agent=ann waited=0ms
        [    0s] contact_transferred contact=c1 agent=ann service=benefits
        [    0s] wrap_up_started agent=ann until=1970-01-01T00:00:30Z
        [    0s] offer_made offer=2 contact=c1 agent=bob expires=1970-01-01T00:00:15Z plan=default/0:matched rule=longest_idle pool=1 examined=1 score=0"#]].assert_eq(&centre.events());
}

#[test]
fn logout_with_a_call_in_hand_is_refused_unless_forced_and_then_the_call_requeues() {
    let mut centre = Centre::new();
    centre.staff("ann", 1, "hq", &[("housing", 3)]);
    centre.call("c1", "housing");
    centre.accept("ann", 1);
    let refused = centre.try_command(Command::LogoutAgent {
        agent: "ann".into(),
        force: false,
    });
    assert_eq!(
        refused.map_err(|r| r.code),
        Err(RejectionCode::InvalidTransition)
    );
    centre.command(Command::LogoutAgent {
        agent: "ann".into(),
        force: true,
    });
    expect![[r#"
        [    0s] agent_logged_in agent=ann tier 1 site=hq skills=housing:3
        [    0s] agent_ready agent=ann
        [    0s] contact_created contact=c1 phone service=housing skills=housing:1 step=0
        [    0s] offer_made offer=1 contact=c1 agent=ann expires=1970-01-01T00:00:15Z plan=default/0:matched rule=longest_idle pool=1 examined=1 score=0
        [    0s] offer_accepted offer=1 contact=c1 agent=ann waited=0ms
        [    0s] contact_requeued contact=c1 agent=ann reason=agent_logged_out
        [    0s] agent_logged_out agent=ann
        [    0s] contact_unservable contact=c1 step=0 logged_in=0: no agent is logged in"#]].assert_eq(&centre.events());
    assert_eq!(
        centre.state().contact("c1").map(|c| c.status.as_str()),
        Some("queued")
    );
}

#[test]
fn chats_fill_an_agent_up_to_capacity_and_block_calls_until_they_finish() {
    let mut centre = Centre::new();
    centre.login_with_channels(
        "ann",
        1,
        "hq",
        &[("benefits", 3)],
        &[(Channel::Chat, 2), (Channel::Phone, 1)],
    );
    centre.ready("ann");
    for id in ["chat1", "chat2", "chat3"] {
        centre.arrive(NewContact::routine(id, Channel::Chat, "benefits"));
    }
    centre.call("call1", "benefits");
    centre.accept("ann", 1);
    centre.accept("ann", 2);
    centre.complete("ann", "chat1", Outcome::Resolved);
    centre.complete("ann", "chat2", Outcome::NoAction);
    expect![[r#"
        [    0s] agent_logged_in agent=ann tier 1 site=hq skills=benefits:3
        [    0s] agent_ready agent=ann
        [    0s] contact_created contact=chat1 chat service=benefits skills=benefits:1 step=0
        [    0s] offer_made offer=1 contact=chat1 agent=ann expires=1970-01-01T00:00:30Z plan=default/0:matched rule=longest_idle pool=1 examined=1 score=0
        [    0s] contact_created contact=chat2 chat service=benefits skills=benefits:1 step=0
        [    0s] offer_made offer=2 contact=chat2 agent=ann expires=1970-01-01T00:00:30Z plan=default/0:matched rule=longest_idle pool=1 examined=1 score=0
        [    0s] contact_created contact=chat3 chat service=benefits skills=benefits:1 step=0
        [    0s] contact_created contact=call1 phone service=benefits skills=benefits:1 step=0
        [    0s] offer_accepted offer=1 contact=chat1 agent=ann waited=0ms
        [    0s] offer_accepted offer=2 contact=chat2 agent=ann waited=0ms
        [    0s] contact_completed contact=chat1 agent=ann outcome=resolved first_contact_resolution
        [    0s] offer_made offer=3 contact=chat3 agent=ann expires=1970-01-01T00:00:30Z plan=default/0:matched rule=queue_order pool=1 examined=1 score=0
        [    0s] contact_completed contact=chat2 agent=ann outcome=no_action"#]].assert_eq(&centre.events());
}

#[test]
fn emails_are_auto_accepted_interrupted_by_calls_and_reported_at_risk_and_breached() {
    let mut centre = Centre::new();
    centre.login_with_channels(
        "ann",
        1,
        "hq",
        &[("council_tax", 3)],
        &[(Channel::Email, 2), (Channel::Phone, 1)],
    );
    centre.ready("ann");
    let mut email = NewContact::routine("e1", Channel::Email, "council_tax");
    email.due_at = Some(Timestamp::from_millis(5 * 3600 * 1000));
    centre.arrive(email);
    centre.call("call1", "council_tax");
    centre.advance(6 * 3600);
    expect![[r#"
        [    0s] agent_logged_in agent=ann tier 1 site=hq skills=council_tax:3
        [    0s] agent_ready agent=ann
        [    0s] contact_created contact=e1 email service=council_tax skills=council_tax:1 step=0
        [    0s] offer_made offer=1 contact=e1 agent=ann expires=1970-01-01T00:05:00Z plan=default/0:matched rule=longest_idle pool=1 examined=1 score=0
        [    0s] offer_accepted offer=1 contact=e1 agent=ann automatic waited=0ms
        [    0s] contact_created contact=call1 phone service=council_tax skills=council_tax:1 step=0
        [    0s] offer_made offer=2 contact=call1 agent=ann expires=1970-01-01T00:00:15Z plan=default/0:matched rule=longest_idle pool=1 examined=1 score=0
        [   15s] offer_expired offer=2 contact=call1 agent=ann
        [   20s] service_level_threshold_passed contact=call1 threshold=20s
        [   30s] contact_step_advanced contact=call1 step=1
        [   45s] offer_made offer=3 contact=call1 agent=ann expires=1970-01-01T00:01:00Z plan=default/1:any_higher_tier rule=longest_idle pool=1 examined=1 score=45000
        [   60s] offer_expired offer=3 contact=call1 agent=ann
        [   60s] agent_not_ready agent=ann reason=missed_offers
        [   60s] contact_step_advanced contact=call1 step=2
        [  120s] contact_step_advanced contact=call1 step=3
        [ 9000s] due_time_at_risk contact=e1 due=1970-01-01T05:00:00Z
        [18000s] due_time_breached contact=e1 due=1970-01-01T05:00:00Z"#]].assert_eq(&centre.events());
}

#[test]
fn an_agent_holding_an_email_wraps_up_after_a_call_and_is_idle_from_then_not_from_before() {
    let mut centre = Centre::new();
    let blended = [(Channel::Email, 5), (Channel::Phone, 1)];
    centre.login_with_channels("ann", 1, "hq", &[("council_tax", 3)], &blended);
    centre.ready("ann");
    centre.advance(60);
    centre.login_with_channels("bob", 1, "hq", &[("council_tax", 3)], &blended);
    centre.ready("bob");
    centre.advance(60);
    centre.arrive(NewContact::routine("e1", Channel::Email, "council_tax"));
    centre.advance(60);
    centre.events();

    // Ann holds an email, which does not keep her from calls: she has been idle longest.
    centre.call("c1", "council_tax");
    centre.accept("ann", 2);
    centre.advance(120);
    // She wraps up after the call although she still holds the email, and is idle from the
    // end of her wrap-up: the next call goes to Bob, idle since he became ready.
    centre.complete("ann", "c1", Outcome::Resolved);
    centre.advance(60);
    centre.call("c2", "council_tax");
    expect![[r#"
        [  180s] contact_created contact=c1 phone service=council_tax skills=council_tax:1 step=0
        [  180s] offer_made offer=2 contact=c1 agent=ann expires=1970-01-01T00:03:15Z plan=default/0:matched rule=longest_idle pool=2 examined=1 score=180000
        [  180s] offer_accepted offer=2 contact=c1 agent=ann waited=0ms
        [  300s] contact_completed contact=c1 agent=ann outcome=resolved first_contact_resolution
        [  300s] wrap_up_started agent=ann until=1970-01-01T00:05:30Z
        [  330s] wrap_up_ended agent=ann
        [  360s] contact_created contact=c2 phone service=council_tax skills=council_tax:1 step=0
        [  360s] offer_made offer=3 contact=c2 agent=bob expires=1970-01-01T00:06:15Z plan=default/0:matched rule=longest_idle pool=2 examined=1 score=300000"#]].assert_eq(&centre.events());
    assert_eq!(
        centre.state().agent("ann").map(|a| a.contacts.len()),
        Some(1),
        "the email is still hers"
    );
    centre.assert_replay_equal();
}

#[test]
fn a_call_unanswered_past_its_threshold_is_reported() {
    let mut centre = Centre::new();
    centre.call("c1", "elections");
    centre.advance(25);
    centre.staff("ann", 1, "hq", &[("elections", 1)]);
    centre.accept("ann", 1);
    expect![[r#"
        [    0s] contact_created contact=c1 phone service=elections skills=elections:1 step=0
        [    0s] contact_unservable contact=c1 step=0 logged_in=0: no agent is logged in
        [   20s] service_level_threshold_passed contact=c1 threshold=20s
        [   25s] agent_logged_in agent=ann tier 1 site=hq skills=elections:1
        [   25s] agent_ready agent=ann
        [   25s] offer_made offer=1 contact=c1 agent=ann expires=1970-01-01T00:00:40Z plan=default/0:matched rule=queue_order pool=1 examined=1 score=25000
        [   25s] offer_accepted offer=1 contact=c1 agent=ann waited=25000ms outside_service_level"#]].assert_eq(&centre.events());
    let counters = &centre.state().counters()[&("elections".into(), Channel::Phone)];
    assert_eq!(
        (
            counters.answered,
            counters.answered_within_service_level,
            counters.service_level_passed
        ),
        (1, 0, 1)
    );
}

#[test]
fn a_returning_customer_goes_back_to_their_last_agent_when_free() {
    let mut centre = Centre::new();
    centre.staff("bob", 1, "hq", &[("housing", 3)]);
    centre.advance(1);
    centre.staff("ann", 1, "hq", &[("housing", 3)]);
    let mut first = NewContact::routine("c1", Channel::Phone, "housing");
    first.customer = Some("cust-42".into());
    centre.arrive(first);
    centre.accept("bob", 1);
    centre.complete("bob", "c1", Outcome::Referred);
    centre.advance(60);
    centre.events();
    let mut second = NewContact::routine("c2", Channel::Phone, "housing");
    second.customer = Some("cust-42".into());
    centre.arrive(second);
    expect![[r#"
        [   61s] contact_created contact=c2 phone service=housing skills=housing:1 preferred=bob step=0
        [   61s] offer_made offer=2 contact=c2 agent=bob expires=1970-01-01T00:01:16Z plan=default/0:matched rule=preferred_agent pool=1 examined=1 score=0"#]].assert_eq(&centre.events());
}

#[test]
fn the_plan_relaxes_proficiency_after_a_minute() {
    let mut centre = Centre::new();
    centre.staff("trainee", 1, "hq", &[("adult_social_care", 2)]);
    centre.arrive(NewContact {
        skills: vec![needs("adult_social_care", 3)],
        ..NewContact::routine("c1", Channel::Phone, "adult_social_care")
    });
    centre.advance(61);
    expect![[r#"
        [    0s] agent_logged_in agent=trainee tier 1 site=hq skills=adult_social_care:2
        [    0s] agent_ready agent=trainee
        [    0s] contact_created contact=c1 phone service=adult_social_care skills=adult_social_care:3 step=0
        [   20s] service_level_threshold_passed contact=c1 threshold=20s
        [   30s] contact_step_advanced contact=c1 step=1
        [   60s] contact_step_advanced contact=c1 step=2
        [   60s] offer_made offer=1 contact=c1 agent=trainee expires=1970-01-01T00:01:15Z plan=default/2:relaxed_proficiency rule=longest_idle pool=1 examined=1 score=60000"#]].assert_eq(&centre.events());
}

#[test]
fn a_preferred_agent_only_step_waits_for_the_case_owner_then_widens() {
    let config = RoutingConfig {
        default_plan: RoutingPlan {
            name: "case_owner_first".into(),
            steps: vec![
                PlanStep {
                    preferred_agent_only: true,
                    ..PlanStep::matched("case_owner", Duration::ZERO)
                },
                PlanStep::matched("anyone", Duration::from_secs(300)),
            ],
        },
        ..RoutingConfig::default()
    };
    let mut centre = Centre::with_config(config);
    centre.staff("other", 1, "hq", &[("complaints", 3)]);
    centre.login("owner", 1, "hq", &[("complaints", 3)]);
    let mut email = NewContact::routine("e1", Channel::Email, "complaints");
    email.preferred_agent = Some("owner".into());
    centre.arrive(email);
    centre.advance(301);
    let mut second = NewContact::routine("e2", Channel::Email, "complaints");
    second.preferred_agent = Some("owner".into());
    centre.arrive(second);
    centre.advance(10);
    centre.ready("owner");
    expect![[r#"
        [    0s] agent_logged_in agent=other tier 1 site=hq skills=complaints:3
        [    0s] agent_ready agent=other
        [    0s] agent_logged_in agent=owner tier 1 site=hq skills=complaints:3
        [    0s] contact_created contact=e1 email service=complaints skills=complaints:1 preferred=owner step=0
        [  300s] contact_step_advanced contact=e1 step=1
        [  300s] offer_made offer=1 contact=e1 agent=other expires=1970-01-01T00:10:00Z plan=case_owner_first/1:anyone rule=longest_idle pool=1 examined=1 score=300000
        [  300s] offer_accepted offer=1 contact=e1 agent=other automatic waited=300000ms
        [  301s] contact_created contact=e2 email service=complaints skills=complaints:1 preferred=owner step=0
        [  311s] agent_ready agent=owner
        [  311s] offer_made offer=2 contact=e2 agent=owner expires=1970-01-01T00:10:11Z plan=case_owner_first/0:case_owner rule=queue_order pool=1 examined=1 score=10000
        [  311s] offer_accepted offer=2 contact=e2 agent=owner automatic waited=10000ms"#]].assert_eq(&centre.events());
}

#[test]
fn most_skilled_strategy_picks_the_highest_proficiency() {
    let config = RoutingConfig {
        strategy: SelectionStrategy::MostSkilled,
        ..RoutingConfig::default()
    };
    let mut centre = Centre::with_config(config);
    centre.staff("novice", 1, "hq", &[("benefits", 1)]);
    centre.staff("expert", 1, "hq", &[("benefits", 5)]);
    centre.staff("middling", 1, "hq", &[("benefits", 3)]);
    centre.events();
    centre.call("c1", "benefits");
    expect![[r#"
        [    0s] contact_created contact=c1 phone service=benefits skills=benefits:1 step=0
        [    0s] offer_made offer=1 contact=c1 agent=expert expires=1970-01-01T00:00:15Z plan=default/0:matched rule=most_skilled pool=3 examined=3 score=5"#]].assert_eq(&centre.events());
}

#[test]
fn bad_commands_are_refused_with_a_code_and_change_nothing() {
    let mut centre = Centre::new();
    centre.staff("ann", 1, "hq", &[("bins", 3)]);
    centre.staff("bob", 1, "hq", &[("bins", 3)]);
    centre.call("c1", "bins");
    centre.events();
    let before = centre.state().clone();
    let cases = [
        (
            Command::MakeReady {
                agent: "nobody".into(),
            },
            RejectionCode::UnknownAgent,
        ),
        (
            Command::AcceptOffer {
                agent: "bob".into(),
                offer: OfferId::new(1),
            },
            RejectionCode::NotYourOffer,
        ),
        (
            Command::AcceptOffer {
                agent: "ann".into(),
                offer: OfferId::new(99),
            },
            RejectionCode::UnknownOffer,
        ),
        (
            Command::CreateContact(Box::new(NewContact::routine("c1", Channel::Phone, "bins"))),
            RejectionCode::DuplicateContact,
        ),
        (
            Command::CompleteContact {
                agent: "ann".into(),
                contact: "c1".into(),
                outcome: Outcome::Resolved,
            },
            RejectionCode::InvalidTransition,
        ),
        (
            Command::CompleteContact {
                agent: "ann".into(),
                contact: "nope".into(),
                outcome: Outcome::Resolved,
            },
            RejectionCode::UnknownContact,
        ),
        (
            Command::EscalateContact {
                agent: "bob".into(),
                contact: "c1".into(),
                reason: "x".into(),
                to_tier: None,
            },
            RejectionCode::NotYourOffer,
        ),
    ];
    for (command, code) in cases {
        let description = format!("{command:?}");
        let result = centre.try_command(command);
        assert_eq!(result.map_err(|r| r.code), Err(code), "{description}");
    }
    assert_eq!(centre.events(), "");
    assert!(
        *centre.state() == before,
        "a rejected command changed the state"
    );
}

#[test]
fn names_past_the_bound_are_refused_and_known_ones_still_work() {
    let mut centre = Centre::new();
    // Each email names a service of its own, and so a skill of its own (the service's). Straight
    // to the router: the harness checks every invariant after each command, which would make
    // this quadratic.
    for n in 0..NAMES_MAX {
        let email = NewContact::routine(&format!("e{n}"), Channel::Email, &format!("service-{n}"));
        centre
            .router
            .handle_command(Command::CreateContact(Box::new(email)), centre.now)
            .expect("a new service while there is room");
    }
    let created: Vec<_> = centre.router.drain_events().collect();
    // Each is also recorded unservable: nobody is logged in.
    let arrivals = created
        .iter()
        .filter(|e| matches!(e.kind, EventKind::ContactCreated(_)))
        .count();
    assert_eq!(arrivals, NAMES_MAX);
    centre.log.extend(created);
    centre.events();
    centre
        .state()
        .check_invariants()
        .expect("the invariants hold");
    let before = centre.state().clone();
    let refused = centre
        .try_command(Command::CreateContact(Box::new(NewContact::routine(
            "one-more",
            Channel::Email,
            "case-ref-88121",
        ))))
        .expect_err("one service too many");
    assert_eq!(refused.code, RejectionCode::InvalidCommand);
    assert!(
        refused.message.contains("service `case-ref-88121` is new")
            && refused.message.contains("the most it keeps is 10000"),
        "{}",
        refused.message
    );
    let refused = centre
        .try_command(common::login("ann", 1, "hq", &[("new-skill", 3)], None))
        .expect_err("one skill too many");
    assert!(
        refused.message.contains("skill `new-skill`"),
        "{}",
        refused.message
    );
    assert!(*centre.state() == before, "refusals change nothing");
    assert_eq!(centre.events(), "");

    // Names already known are no trouble.
    centre.arrive(NewContact::routine("again", Channel::Email, "service-7"));
    centre.command(common::login("ann", 1, "hq", &[("service-7", 3)], None));
    centre.assert_replay_equal();
}

#[test]
fn a_live_contact_counts_from_its_first_contact_but_at_most_an_hour_back() {
    let start = Timestamp::from_millis(1_795_422_600_000);
    let mut centre = Centre::starting_at(RoutingConfig::default(), start);
    let received = |minutes_before: u64| {
        Some(Timestamp::from_millis(
            start.as_millis() - minutes_before * 60_000,
        ))
    };
    let mut transferred = NewContact::routine("from-ivr", Channel::Phone, "bins");
    transferred.received_at = received(20);
    centre.arrive(transferred);
    let mut wrong = NewContact::routine("wrong-clock", Channel::Phone, "bins");
    wrong.received_at = Some(Timestamp::from_millis(0));
    centre.arrive(wrong);
    let mut letter = NewContact::routine("letter", Channel::Email, "bins");
    letter.received_at = received(3 * 24 * 60);
    centre.arrive(letter);
    let arrived = |id: &str| {
        centre
            .state()
            .contact(id)
            .map(|c| (start.as_millis() - c.first_arrived_at.as_millis()) / 60_000)
    };
    assert_eq!(
        arrived("from-ivr"),
        Some(20),
        "twenty minutes in the IVR count"
    );
    assert_eq!(
        arrived("wrong-clock"),
        Some(60),
        "at most an hour back for a live contact"
    );
    assert_eq!(
        arrived("letter"),
        Some(3 * 24 * 60),
        "a letter's receipt counts however far back"
    );
    centre.assert_replay_equal();
}

#[test]
fn a_walk_in_nobody_at_its_site_can_serve_is_recorded_with_why_and_counted_until_someone_can() {
    let mut centre = Centre::new();
    centre.staff("kim", 1, "market_square", &[("parking", 4)]);
    centre.staff("lee", 1, "town_hall", &[("council_tax", 4)]);
    let mut walk_in = NewContact::routine("w1", Channel::FaceToFace, "council_tax");
    walk_in.site = Some("market_square".into());
    centre.arrive(walk_in);
    centre.advance(600);
    let unservable = |centre: &Centre| -> Vec<String> {
        let mut ids: Vec<String> = centre
            .router
            .unservable()
            .iter()
            .map(|c| c.id.to_string())
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(unservable(&centre), ["w1"]);
    // A colleague with the skill arrives at the site but is not ready yet: the walk-in can be
    // served now, so it no longer counts, though nobody has taken it.
    centre.login("max", 2, "market_square", &[("council_tax", 2)]);
    assert_eq!(unservable(&centre), Vec::<String>::new());
    centre.ready("max");
    expect![[r#"
        [    0s] agent_logged_in agent=kim tier 1 site=market_square skills=parking:4
        [    0s] agent_ready agent=kim
        [    0s] agent_logged_in agent=lee tier 1 site=town_hall skills=council_tax:4
        [    0s] agent_ready agent=lee
        [    0s] contact_created contact=w1 face_to_face service=council_tax skills=council_tax:1 site=market_square step=0
        [    0s] contact_unservable contact=w1 step=0 logged_in=2: no agent at market_square with council_tax
        [   30s] contact_step_advanced contact=w1 step=1
        [   60s] contact_step_advanced contact=w1 step=2
        [  120s] contact_step_advanced contact=w1 step=3
        [  600s] agent_logged_in agent=max tier 2 site=market_square skills=council_tax:2
        [  600s] agent_ready agent=max
        [  600s] offer_made offer=1 contact=w1 agent=max expires=1970-01-01T00:10:30Z plan=default/3:language_dropped rule=queue_order pool=1 examined=1 score=600000"#]].assert_eq(&centre.events());
    centre.assert_replay_equal();
}

#[test]
fn not_ready_with_the_same_reason_again_changes_nothing_and_a_new_reason_is_recorded() {
    // Time in each not-ready reason is reported, so a new reason is a change of state; the same
    // reason again (a desktop that repeats its button press) is not, and writes nothing.
    let mut centre = Centre::new();
    centre.staff("ann", 1, "hq", &[("housing", 3)]);
    centre.not_ready("ann", "break");
    centre.advance(60);
    let repeated = centre.try_command(Command::MakeNotReady {
        agent: "ann".into(),
        reason: "break".into(),
    });
    assert_eq!(repeated, Ok(0), "nothing changed, nothing recorded");
    centre.not_ready("ann", "training");
    // The login's own reason counts the same way.
    centre.login("bob", 1, "hq", &[("housing", 3)]);
    let repeated = centre.try_command(Command::MakeNotReady {
        agent: "bob".into(),
        reason: "login".into(),
    });
    assert_eq!(repeated, Ok(0));
    expect![[r#"
        [    0s] agent_logged_in agent=ann tier 1 site=hq skills=housing:3
        [    0s] agent_ready agent=ann
        [    0s] agent_not_ready agent=ann reason=break
        [   60s] agent_not_ready agent=ann reason=training
        [   60s] agent_logged_in agent=bob tier 1 site=hq skills=housing:3"#]]
    .assert_eq(&centre.events());
    centre.assert_replay_equal();
}

#[test]
fn a_logout_that_leaves_waiting_contacts_without_anyone_records_each_once() {
    let mut centre = Centre::new();
    centre.staff("ann", 1, "hq", &[("bins", 3)]);
    centre.staff("bob", 1, "hq", &[("parking", 3)]);
    centre.call("c1", "bins");
    centre.accept("ann", 1);
    centre.call("c2", "bins");
    // c2 waits for Ann, who is busy: servable.
    assert!(centre.router.unservable().is_empty());
    let logout = |agent: &str| Command::LogoutAgent {
        agent: agent.into(),
        force: true,
    };
    centre.command(logout("ann"));
    centre.command(logout("bob"));
    expect![[r#"
        [    0s] agent_logged_in agent=ann tier 1 site=hq skills=bins:3
        [    0s] agent_ready agent=ann
        [    0s] agent_logged_in agent=bob tier 1 site=hq skills=parking:3
        [    0s] agent_ready agent=bob
        [    0s] contact_created contact=c1 phone service=bins skills=bins:1 step=0
        [    0s] offer_made offer=1 contact=c1 agent=ann expires=1970-01-01T00:00:15Z plan=default/0:matched rule=longest_idle pool=1 examined=1 score=0
        [    0s] offer_accepted offer=1 contact=c1 agent=ann waited=0ms
        [    0s] contact_created contact=c2 phone service=bins skills=bins:1 step=0
        [    0s] contact_requeued contact=c1 agent=ann reason=agent_logged_out
        [    0s] agent_logged_out agent=ann
        [    0s] contact_unservable contact=c1 step=0 logged_in=1: no agent with bins
        [    0s] contact_unservable contact=c2 step=0 logged_in=1: no agent with bins
        [    0s] agent_logged_out agent=bob"#]].assert_eq(&centre.events());
    assert_eq!(centre.router.unservable().len(), 2);
    centre.assert_replay_equal();
}

#[test]
fn ready_during_wrap_up_ends_it_early_with_wrap_up_ended() {
    // Reporting consumers compute wrap-up time from `wrap_up_started` to `wrap_up_ended`; an
    // agent who says ready before the time is up ends it then, with the same event.
    let mut centre = Centre::new();
    centre.staff("ann", 1, "hq", &[("council_tax", 3)]);
    centre.call("c1", "council_tax");
    centre.accept("ann", 1);
    centre.advance(60);
    centre.complete("ann", "c1", Outcome::Resolved);
    centre.advance(10);
    centre.ready("ann");
    centre.advance(60);
    expect![[r#"
        [    0s] agent_logged_in agent=ann tier 1 site=hq skills=council_tax:3
        [    0s] agent_ready agent=ann
        [    0s] contact_created contact=c1 phone service=council_tax skills=council_tax:1 step=0
        [    0s] offer_made offer=1 contact=c1 agent=ann expires=1970-01-01T00:00:15Z plan=default/0:matched rule=longest_idle pool=1 examined=1 score=0
        [    0s] offer_accepted offer=1 contact=c1 agent=ann waited=0ms
        [   60s] contact_completed contact=c1 agent=ann outcome=resolved first_contact_resolution
        [   60s] wrap_up_started agent=ann until=1970-01-01T00:01:30Z
        [   70s] wrap_up_ended agent=ann"#]]
    .assert_eq(&centre.events());
    let ann = centre.state().agent("ann").expect("logged in");
    assert_eq!(ann.presence.as_str(), "ready");
    assert_eq!(ann.idle_since, Timestamp::from_millis(70_000));
    assert_eq!(centre.router.poll_timeout(), None, "no wrap-up timer left");
    // Ready again while ready changes nothing.
    let again = centre.try_command(Command::MakeReady {
        agent: "ann".into(),
    });
    assert_eq!(again, Ok(0));
    centre.assert_replay_equal();
}

#[test]
fn a_log_that_ended_wrap_up_early_with_agent_ready_still_replays() {
    // Logs written before `wrap_up_ended` was emitted for an early ready hold `agent_ready`
    // there: replaying one gives the state a live router had, with no wrap-up timer left over.
    let mut centre = Centre::new();
    centre.staff("ann", 1, "hq", &[("council_tax", 3)]);
    centre.call("c1", "council_tax");
    centre.accept("ann", 1);
    centre.complete("ann", "c1", Outcome::Resolved);
    let mut old_log = centre.log.clone();
    old_log.push(switchboard_core::Event {
        at: Timestamp::from_millis(10_000),
        kind: EventKind::AgentReady {
            agent: "ann".into(),
        },
    });
    centre.advance(10);
    centre.ready("ann");
    let replayed = switchboard_core::State::replay(&old_log);
    assert_eq!(replayed.check_invariants(), Ok(()));
    assert!(
        replayed == *centre.state(),
        "the old and the new log give the same state"
    );
    assert_eq!(replayed.next_deadline(), None, "no wrap-up timer left");
}

fn complaint(id: &str, channel: Channel) -> NewContact {
    let mut contact = NewContact::routine(id, channel, "planning");
    contact.complaint_stage = Some(switchboard_core::ComplaintStage::Stage1);
    contact
}

fn to_stage_2(contact: &str, agent: Option<&str>) -> Command {
    Command::ChangeComplaintStage {
        contact: contact.into(),
        agent: agent.map(Into::into),
        to: switchboard_core::ComplaintStage::Stage2,
        reason: "dissatisfied with the stage 1 response".into(),
        received_at: None,
        due_at: None,
    }
}

#[test]
fn a_complaint_moved_on_by_its_agent_leaves_their_desk_on_every_channel_alike() {
    // One rule whatever the channel: the complaint goes back to the queue from its agent's desk
    // (`contact_requeued`, reason `complaint_stage_changed`), its new stage is recorded, the
    // agent wraps up as after completing a contact on that channel, and the complaint is routed
    // again like any waiting contact. A call's agent wraps up, so it goes to Dan; email has no
    // wrap-up, so the email goes straight back to Cara, the only one free, at its new stage.
    let mut centre = Centre::new();
    let both = [(Channel::Phone, 1), (Channel::Email, 5)];
    centre.login_with_channels("cara", 2, "hq", &[("customer_relations", 3)], &both);
    centre.ready("cara");
    centre.advance(10);
    centre.login_with_channels("dan", 2, "hq", &[("customer_relations", 3)], &both);
    centre.ready("dan");
    centre.advance(10);
    centre.arrive(complaint("call-1", Channel::Phone));
    centre.accept("cara", 1);
    centre.events();
    centre.advance(60);
    centre.command(to_stage_2("call-1", Some("cara")));
    expect![[r#"
        [   80s] contact_requeued contact=call-1 agent=cara reason=complaint_stage_changed
        [   80s] complaint_stage_changed contact=call-1 stage_1->stage_2 received=1970-01-01T00:01:20Z acknowledge_by=1970-01-08T16:00:00Z due=1970-02-05T16:00:00Z reason=dissatisfied with the stage 1 response
        [   80s] wrap_up_started agent=cara until=1970-01-01T00:01:50Z
        [   80s] offer_made offer=2 contact=call-1 agent=dan expires=1970-01-01T00:01:35Z plan=default/0:matched rule=longest_idle pool=1 examined=1 score=70000"#]]
    .assert_eq(&centre.events());
    centre.accept("dan", 2);
    centre.complete("dan", "call-1", Outcome::Resolved);
    centre.not_ready("dan", "lunch");
    centre.advance(60);
    centre.arrive(complaint("mail-1", Channel::Email));
    centre.events();
    centre.command(to_stage_2("mail-1", Some("cara")));
    expect![[r#"
        [  140s] contact_requeued contact=mail-1 agent=cara reason=complaint_stage_changed
        [  140s] complaint_stage_changed contact=mail-1 stage_1->stage_2 received=1970-01-01T00:02:20Z acknowledge_by=1970-01-08T16:00:00Z due=1970-02-05T16:00:00Z reason=dissatisfied with the stage 1 response
        [  140s] offer_made offer=4 contact=mail-1 agent=cara expires=1970-01-01T00:07:20Z plan=default/0:matched rule=longest_idle pool=1 examined=1 score=0
        [  140s] offer_accepted offer=4 contact=mail-1 agent=cara automatic waited=0ms"#]]
    .assert_eq(&centre.events());
    centre.assert_replay_equal();
}

#[test]
fn a_waiting_complaint_moves_on_in_place() {
    // A complaint nobody holds keeps its place: no requeue, no wrap-up, whoever is named.
    let mut centre = Centre::new();
    centre.login("cara", 2, "hq", &[("customer_relations", 3)]);
    centre.arrive(complaint("mail-1", Channel::Email));
    centre.events();
    centre.command(to_stage_2("mail-1", Some("cara")));
    expect!["[    0s] complaint_stage_changed contact=mail-1 stage_1->stage_2 received=1970-01-01T00:00:00Z acknowledge_by=1970-01-08T16:00:00Z due=1970-02-05T16:00:00Z reason=dissatisfied with the stage 1 response"]
    .assert_eq(&centre.events());
    centre.assert_replay_equal();
}

#[test]
fn a_login_again_without_the_skill_leaves_the_waiting_contact_unservable_and_says_so() {
    let mut centre = Centre::new();
    // Not ready: the call waits, but Ann could take it once ready.
    centre.login("ann", 1, "hq", &[("housing", 3)]);
    centre.call("c1", "housing");
    assert!(centre.router.unservable().is_empty());
    // Ann logs in again (a new session, as a desktop may) with other skills only.
    centre.login("ann", 1, "hq", &[("parking", 3)]);
    expect![[r#"
        [    0s] agent_logged_in agent=ann tier 1 site=hq skills=housing:3
        [    0s] contact_created contact=c1 phone service=housing skills=housing:1 step=0
        [    0s] agent_logged_in agent=ann tier 1 site=hq skills=parking:3
        [    0s] contact_unservable contact=c1 step=0 logged_in=1: no agent with housing"#]]
    .assert_eq(&centre.events());
    assert_eq!(centre.router.unservable().len(), 1);
    centre.assert_replay_equal();
}
