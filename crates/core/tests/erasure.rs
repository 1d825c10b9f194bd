//! Erasure of a customer's personal data (docs/privacy.md): recorded at once when they have no
//! contact in progress, deferred until the last one ends when they have, and forgotten by the
//! state (last agent, persistent-complainant designation) either way. The core keeps no keys:
//! the node destroys the key when it sees `personal_data_erased`.

mod common;

use common::Centre;
use switchboard_core::{
    Channel, Command, CustomerId, ErasureReason, NewContact, Outcome, RejectionCode,
};

fn erase(customer: Option<&str>, subject: &str) -> Command {
    Command::ErasePersonalData {
        customer: customer.map(CustomerId::from),
        subject: subject.into(),
        reason: ErasureReason::Request,
    }
}

fn call_from(id: &str, customer: &str) -> NewContact {
    let mut call = NewContact::routine(id, Channel::Phone, "council_tax");
    call.customer = Some(customer.into());
    call
}

#[test]
fn a_customer_with_nothing_in_progress_is_erased_at_once_and_forgotten() {
    let mut centre = Centre::new();
    centre.staff("ann", 1, "hq", &[("council_tax", 3)]);
    centre.arrive(call_from("c1", "cust-7"));
    centre.accept_offered("ann");
    centre.complete("ann", "c1", Outcome::Resolved);
    centre.command(Command::MarkPersistentComplainant {
        customer: "cust-7".into(),
        designated: true,
        reason: "policy decision".into(),
    });
    assert!(centre.state().last_agent_of("cust-7").is_some());
    centre.events();

    centre.command(erase(Some("cust-7"), "ab12"));
    assert_eq!(
        centre.events(),
        "[    0s] personal_data_erased subject=ab12 reason=request customer=cust-7"
    );
    assert_eq!(centre.state().last_agent_of("cust-7"), None);
    assert_eq!(centre.state().persistent_complainant("cust-7"), None);
    let finished = centre.state().finished_contact("c1").expect("kept");
    assert_eq!(
        finished.customer, None,
        "the finished contact forgets whose it was"
    );
    centre.assert_replay_equal();
}

#[test]
fn an_erasure_waits_for_the_customers_contacts_in_progress_then_happens_as_the_last_ends() {
    let mut centre = Centre::new();
    centre.staff("ann", 1, "hq", &[("council_tax", 3)]);
    centre.arrive(call_from("c1", "cust-7"));
    centre.arrive(call_from("c2", "cust-7"));
    centre.arrive(call_from("other", "cust-8"));
    centre.accept_offered("ann");
    centre.events();

    centre.command(erase(Some("cust-7"), "ab12"));
    assert_eq!(
        centre.events(),
        "[    0s] personal_data_erasure_deferred subject=ab12 reason=request live_contacts=2 customer=cust-7"
    );
    assert!(centre.state().pending_erasure("cust-7").is_some());
    // Asked again while it waits: nothing more is recorded.
    centre.command(erase(Some("cust-7"), "ab12"));
    assert_eq!(centre.events(), "");
    // Another customer's contact ending changes nothing for this one.
    centre.abandon("other");
    assert!(!centre.events().contains("personal_data_erased"));

    centre.complete("ann", "c1", Outcome::Resolved);
    let events = centre.events();
    assert!(
        !events.contains("personal_data_erased"),
        "c2 is still in progress: {events}"
    );
    centre.abandon("c2");
    let events = centre.events();
    let last = events.lines().last().unwrap_or_default();
    assert_eq!(
        last, "[    0s] personal_data_erased subject=ab12 reason=request customer=cust-7",
        "{events}"
    );
    assert!(centre.state().pending_erasure("cust-7").is_none());
    assert_eq!(centre.state().last_agent_of("cust-7"), None);
    centre.assert_replay_equal();
}

#[test]
fn an_erasure_of_a_customer_nothing_is_held_for_is_still_recorded() {
    let mut centre = Centre::new();
    centre.command(erase(None, "cd34"));
    assert_eq!(
        centre.events(),
        "[    0s] personal_data_erased subject=cd34 reason=request"
    );
    centre.assert_replay_equal();
}

#[test]
fn an_erasure_without_a_pseudonym_is_refused() {
    let mut centre = Centre::new();
    let refused = centre
        .try_command(erase(Some("cust-7"), " "))
        .expect_err("refused");
    assert_eq!(refused.code, RejectionCode::InvalidCommand);
    assert_eq!(centre.events(), "");
}
