//! What the events feed relies on from JetStream, checked against the pinned nats-server:
//! `Nats-Expected-Last-Msg-Id` refuses a message unless the stream's last message has that id,
//! the duplicate check comes first (a copy of a stored event is acknowledged as a duplicate even
//! though the stream has moved on), and an empty stream has no last message id to expect.

use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::context::PublishErrorKind as Kind;
use async_nats::jetstream::{self, stream};
use switchboard_natsd::NatsServer;

/// Publishes event `seq` as the feed does, expecting `expected_last` as the stream's last message
/// id (if given); the acknowledgement, or the error's kind.
async fn publish(
    js: &jetstream::Context,
    seq: u64,
    expected_last: Option<u64>,
) -> Result<jetstream::publish::PublishAck, Kind> {
    let mut headers = HeaderMap::new();
    headers.insert("Nats-Msg-Id", seq.to_string().as_str());
    headers.insert(switchboard_nats::SEQ_HEADER, seq.to_string().as_str());
    if let Some(last) = expected_last {
        headers.insert("Nats-Expected-Last-Msg-Id", last.to_string().as_str());
    }
    let ack = js
        .publish_with_headers("feed.events.test", headers, seq.to_string().into())
        .await
        .map_err(|error| error.kind())?;
    tokio::time::timeout(Duration::from_secs(10), ack)
        .await
        .expect("an answer in time")
        .map_err(|error| error.kind())
}

#[tokio::test]
async fn the_stream_refuses_an_event_unless_the_previous_one_is_its_last() {
    let server = NatsServer::start().expect("nats-server starts");
    let client = async_nats::connect(server.client_url())
        .await
        .expect("connect");
    let js = jetstream::new(client);
    let mut events = js
        .create_stream(stream::Config {
            name: "FEED_EVENTS".to_owned(),
            subjects: vec!["feed.events.>".to_owned()],
            duplicate_window: Duration::from_secs(120),
            ..Default::default()
        })
        .await
        .expect("the stream");

    // An empty stream has no last message id: event 1 cannot expect one.
    assert_eq!(
        publish(&js, 1, Some(0)).await.map(|_| ()),
        Err(Kind::WrongLastMessageId)
    );
    let first = publish(&js, 1, None).await.expect("event 1 stored");
    assert!(!first.duplicate);
    let second = publish(&js, 2, Some(1)).await.expect("event 2 stored");
    assert_eq!((second.sequence, second.duplicate), (2, false));

    // Event 3 failed (say): event 4 cannot overtake it.
    assert_eq!(
        publish(&js, 4, Some(3)).await.map(|_| ()),
        Err(Kind::WrongLastMessageId)
    );
    // A copy of a stored event is acknowledged as a duplicate (the duplicate check comes before
    // the expected-last one), whether or not it is the stream's last.
    let again = publish(&js, 1, None).await.expect("a duplicate");
    assert!(again.duplicate, "event 1 again is a duplicate");
    let again = publish(&js, 2, Some(1)).await.expect("a duplicate");
    assert_eq!((again.sequence, again.duplicate), (2, true));
    publish(&js, 3, Some(2)).await.expect("event 3 stored");
    let fourth = publish(&js, 4, Some(3)).await.expect("event 4 stored");
    assert_eq!((fourth.sequence, fourth.duplicate), (4, false));
    // A duplicate of an older event whose expected last no longer matches: still a duplicate.
    let old = publish(&js, 2, Some(1)).await.expect("a duplicate");
    assert!(old.duplicate);

    let state = events.info().await.expect("info").state.clone();
    assert_eq!((state.messages, state.last_sequence), (4, 4));
    for seq in 1..=4 {
        let message = events.get_raw_message(seq).await.expect("stored");
        assert_eq!(
            message
                .headers
                .get(switchboard_nats::SEQ_HEADER)
                .map(|v| v.as_str().to_owned()),
            Some(seq.to_string()),
            "the stream holds the events in order"
        );
    }
}
