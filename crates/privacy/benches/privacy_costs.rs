//! What personal data costs the engine per contact, and what a keystore save costs: the node's
//! sealing of a `contact.create` and opening of its event, sealing and
//! opening a value of a caller's typical size, a pseudonym, the file keystore's journal append
//! of a new customer's key, and its atomic, fsynced rewrite at 10 000 and 100 000 subjects. Prints a Markdown table (BENCHMARKS.md).
//!
//! `cargo bench -p switchboard-privacy --bench privacy_costs` (`SWITCHBOARD_BENCH_QUICK=1` for
//! a short run).

use std::hint::black_box;
use std::time::{Duration, Instant};

use switchboard_core::{Channel, Command, EventKind, NewContact, Router, RoutingConfig, Timestamp};
use switchboard_privacy::{
    Changes, DomainSecret, FileKeystore, KEYSTORE_FILE, Keys, Sealer, SubjectKind, open_event,
};

/// A typical personal value: a name, or a caller's number with a note.
const VALUE: &[u8] = b"Mrs A. Example, 07700 900123, flat 4b";

/// Times `run` over `iterations` calls and gives the mean per call.
fn mean(iterations: u32, mut run: impl FnMut(u32)) -> Duration {
    let start = Instant::now();
    for i in 0..iterations {
        run(i);
    }
    start.elapsed() / iterations
}

/// What the engine pays per contact: a `contact.create` with a customer reference (a returning
/// customer: their key exists) and three attributes sealed by the node's [`Sealer`], and its
/// `contact_created` event opened for the events feed and the offer.
fn per_contact(iterations: u32) {
    let keys = Keys::new(DomainSecret::from_bytes([1; 32]));
    let mut sealer = Sealer::seeded(keys, [2; 32]);
    let router = Router::new(RoutingConfig::default()).expect("the default configuration");
    let command = || {
        let mut contact = NewContact::routine("c1", Channel::Phone, "council_tax");
        contact.customer = Some("CUST-1001".into());
        contact.attributes = vec![
            ("caller".into(), "07700 900123".into()),
            ("name".into(), "Mrs A. Example".into()),
            ("note".into(), "flat 4b, rang twice about the bill".into()),
        ];
        Command::CreateContact(Box::new(contact))
    };
    let seal = mean(iterations, |_| {
        black_box(
            sealer
                .seal_command(black_box(command()), router.state())
                .expect("seal"),
        );
    });
    let plain = mean(iterations, |_| {
        black_box(black_box(command()));
    });
    println!(
        "| seal a contact.create (customer reference + 3 attributes), less building it | {:.2?} |",
        seal.saturating_sub(plain)
    );
    let mut router = router;
    let sealed = sealer
        .seal_command(command(), router.state())
        .expect("seal");
    router
        .handle_command(sealed, Timestamp::from_millis(1_000))
        .expect("accepted");
    let event = router
        .drain_events()
        .find(|e| matches!(e.kind, EventKind::ContactCreated(_)))
        .expect("created");
    let open = mean(iterations, |_| {
        black_box(open_event(sealer.keys(), black_box(&event)));
    });
    println!("| open its contact_created event (4 values) | {open:.2?} |");
}

fn main() {
    let quick = std::env::var_os("SWITCHBOARD_BENCH_QUICK").is_some();
    let iterations = if quick { 20_000 } else { 200_000 };
    let dir = tempfile::tempdir().expect("a scratch directory");
    let mut store = FileKeystore::create(dir.path().join(KEYSTORE_FILE)).expect("keystore");
    let mut changes = Changes::default();
    let keys = store.keys_mut();
    let subject = keys.customer("CUST-1001");
    let sealed = keys.seal(subject, VALUE, &mut changes).expect("seal");

    println!("| what | mean |");
    println!("|---|---|");
    let seal = mean(iterations, |_| {
        black_box(
            keys.seal(subject, black_box(VALUE), &mut changes)
                .expect("seal"),
        );
    });
    println!("| seal a {}-byte value | {seal:.2?} |", VALUE.len());
    let open = mean(iterations, |_| {
        black_box(keys.unseal(black_box(&sealed)).expect("open"));
    });
    println!("| open it | {open:.2?} |");
    let pseudonym = mean(iterations, |i| {
        black_box(switchboard_privacy::Pseudonym::of(
            keys.secret(),
            SubjectKind::Customer,
            &format!("CUST-{i}"),
        ));
    });
    println!("| pseudonym of a reference (with its formatting) | {pseudonym:.2?} |");

    per_contact(iterations);

    let mut made = 1_u32;
    for subjects in [10_000_u32, 100_000] {
        while made < subjects {
            let keys = store.keys_mut();
            let subject = keys.customer(&format!("CUST-{made}"));
            keys.seal(subject, VALUE, &mut changes).expect("seal");
            made += 1;
        }
        let saves = if quick { 3 } else { 10 };
        let save = mean(saves, |_| store.save().expect("save"));
        let bytes = std::fs::metadata(store.path()).expect("size").len();
        println!("| rewrite the keystore file, {subjects} subjects ({bytes} bytes) | {save:.2?} |");
    }
    let appends = if quick { 20 } else { 200 };
    let append = mean(appends, |i| {
        let mut changes = Changes::default();
        let keys = store.keys_mut();
        let subject = keys.customer(&format!("NEW-{i}"));
        keys.seal(subject, VALUE, &mut changes).expect("seal");
        store.commit(&changes).expect("append");
    });
    println!(
        "| a new customer's key appended to the journal (with its fdatasync) | {append:.2?} |"
    );
}
