//! A sealed record's stored form (docs/privacy.md): `tests/fixtures/events-v4-sealed.bin` is the
//! payload of one `contact_created` whose customer reference and attribute were sealed by the
//! node's `Sealer` (seeded, so the bytes are the same every time). The personal fields ride as
//! tokens in the stored format's existing text fields (version 4, unchanged): the fixture must
//! decode to the tokens, open to the plaintext with the keys, and hold no plaintext. It was
//! written by the last build that wrote version 4 and is not rewritten: today's version 5
//! encoding of the same event holds no plaintext either (a change of the token's form would
//! need a reader for the old one).

use std::path::PathBuf;

use switchboard_core::{
    Channel, Command, Event, EventKind, NewContact, Router, RoutingConfig, Timestamp,
};
use switchboard_privacy::{DomainSecret, Keys, Sealer, TOKEN_PREFIX, open_event};

const CUSTOMER: &str = "CUST-GOLDEN-1";
const CALLER: &str = "07700 900777";

fn keys() -> Keys {
    Keys::new(DomainSecret::from_bytes([0x11; 32]))
}

/// The sealed `contact_created` the router decides for a sealed `contact.create`, and the keys.
fn sealed_event() -> (Event, Keys) {
    let mut sealer = Sealer::seeded(keys(), [0x22; 32]);
    let mut router = Router::new(RoutingConfig::default()).expect("the default configuration");
    let mut contact = NewContact::routine("golden-1", Channel::Phone, "council_tax");
    contact.customer = Some(CUSTOMER.into());
    contact.attributes = vec![("caller".into(), CALLER.into())];
    let command = sealer
        .seal_command(Command::CreateContact(Box::new(contact)), router.state())
        .expect("sealed");
    router
        .handle_command(command, Timestamp::from_millis(1_795_424_400_000))
        .expect("accepted");
    let event = router
        .drain_events()
        .find(|e| matches!(e.kind, EventKind::ContactCreated(_)))
        .expect("created");
    (event, sealer.keys().clone())
}

fn holds(bytes: &[u8], needle: &str) -> bool {
    bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn a_sealed_record_is_stored_as_tokens_and_opens_with_the_keys() {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/events-v4-sealed.bin");
    let (event, keys) = sealed_event();
    let fixture = std::fs::read(&path).expect("the fixture");
    assert_eq!(fixture[0], 0x03, "version 4");
    let decoded = switchboard_wire::decode_event(&fixture).expect("decodes");
    assert_eq!(decoded, event, "the same seed seals the same tokens");
    let written = switchboard_wire::encode_event(&event);
    assert_eq!(written[0], 0x04, "written today in version 5");
    for personal in [CUSTOMER, CALLER] {
        assert!(!holds(&fixture, personal), "{personal} in the stored bytes");
        assert!(!holds(&written, personal), "{personal} in today's bytes");
    }
    let EventKind::ContactCreated(created) = &decoded.kind else {
        panic!("a contact_created");
    };
    let customer = created.details.customer.as_ref().expect("a customer");
    assert!(customer.as_str().starts_with(TOKEN_PREFIX));
    assert!(created.details.attributes[0].1.starts_with(TOKEN_PREFIX));
    let opened = open_event(&keys, &decoded);
    let EventKind::ContactCreated(created) = &opened.kind else {
        panic!("a contact_created");
    };
    assert_eq!(
        created.details.customer.as_ref().map(|c| c.as_str()),
        Some(CUSTOMER)
    );
    assert_eq!(&*created.details.attributes[0].1, CALLER);
}
