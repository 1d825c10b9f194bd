//! What the events feed relies on from JetStream, checked against the pinned nats-server:
//! `Nats-Expected-Last-Sequence` refuses a message unless the stream's last message is at that
//! stream sequence (0: an empty stream), before it looks for a duplicate (a copy of a stored
//! event is refused for order, not stored twice); and the stream's
//! last sequence is kept across a server restart (it is in the store, where a replica that
//! catches up from its peers gets it too; the last message id is not).

use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::context::PublishErrorKind as Kind;
use async_nats::jetstream::{self, stream};
use switchboard_natsd::NatsServer;

/// Publishes event `seq` as the feed does, expecting the stream's last message at stream sequence
/// `expected_last` (if given); the acknowledgement, or the error's kind.
async fn publish(
    js: &jetstream::Context,
    seq: u64,
    expected_last: Option<u64>,
) -> Result<jetstream::publish::PublishAck, Kind> {
    let mut headers = HeaderMap::new();
    headers.insert("Nats-Msg-Id", seq.to_string().as_str());
    headers.insert(switchboard_nats::SEQ_HEADER, seq.to_string().as_str());
    if let Some(last) = expected_last {
        headers.insert("Nats-Expected-Last-Sequence", last.to_string().as_str());
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

/// The `Switchboard-Seq` of the message at stream sequence `at`.
async fn event_at(events: &stream::Stream, at: u64) -> Option<String> {
    let message = events.get_raw_message(at).await.expect("stored");
    message
        .headers
        .get(switchboard_nats::SEQ_HEADER)
        .map(|value| value.as_str().to_owned())
}

#[tokio::test]
async fn the_stream_refuses_an_event_unless_the_previous_one_is_its_last() {
    let mut server = NatsServer::start().expect("nats-server starts");
    let client = async_nats::connect(server.client_url())
        .await
        .expect("connect");
    let js = jetstream::new(client);
    let config = stream::Config {
        name: "FEED_EVENTS".to_owned(),
        subjects: vec!["feed.events.>".to_owned()],
        duplicate_window: Duration::from_secs(120),
        ..Default::default()
    };
    js.create_stream(config).await.expect("the stream");

    // An empty stream's last sequence is 0: event 1 expects it, and nothing else.
    assert_eq!(
        publish(&js, 1, Some(1)).await.map(|_| ()),
        Err(Kind::WrongLastSequence)
    );
    let first = publish(&js, 1, Some(0)).await.expect("event 1 stored");
    assert_eq!((first.sequence, first.duplicate), (1, false));
    let second = publish(&js, 2, Some(1)).await.expect("event 2 stored");
    assert_eq!((second.sequence, second.duplicate), (2, false));

    // Event 3 failed (say): event 4 cannot overtake it.
    assert_eq!(
        publish(&js, 4, Some(3)).await.map(|_| ()),
        Err(Kind::WrongLastSequence)
    );
    // The sequence check comes before the duplicate check: a copy of a stored event is refused
    // for order, not acknowledged as a duplicate (the feed then reads the stream's tail and
    // resumes after it); a copy of one that is stored elsewhere is refused, not stored twice.
    assert_eq!(
        publish(&js, 2, Some(1)).await.map(|_| ()),
        Err(Kind::WrongLastSequence)
    );
    let again = publish(&js, 2, Some(2)).await.expect("a duplicate");
    assert_eq!((again.sequence, again.duplicate), (2, true));
    publish(&js, 3, Some(2)).await.expect("event 3 stored");
    assert_eq!(
        publish(&js, 1, Some(0)).await.map(|_| ()),
        Err(Kind::WrongLastSequence)
    );

    // The server restarts: the stream's last sequence is in its store, so event 4 is expected
    // where event 3 was stored, as before.
    server.restart().expect("nats-server restarts");
    let client = async_nats::connect(server.client_url())
        .await
        .expect("connect again");
    let js = jetstream::new(client);
    let mut events = js.get_stream("FEED_EVENTS").await.expect("the stream");
    assert_eq!(
        publish(&js, 4, Some(2)).await.map(|_| ()),
        Err(Kind::WrongLastSequence),
        "after the restart, a stale expectation is refused"
    );
    let fourth = publish(&js, 4, Some(3)).await.expect("event 4 stored");
    assert_eq!((fourth.sequence, fourth.duplicate), (4, false));

    let state = events.info().await.expect("info").state.clone();
    assert_eq!((state.messages, state.last_sequence), (4, 4));
    for seq in 1..=4 {
        assert_eq!(
            event_at(&events, seq).await,
            Some(seq.to_string()),
            "the stream holds the events in order"
        );
    }
}

#[tokio::test]
async fn the_expectation_follows_the_stream_sequence_not_the_event_number() {
    // A stream that did not start with event 1 (another domain's log before it, or a purge):
    // event `n` is expected at the stream sequence of event `n - 1`, whatever its number.
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
    for seq in 1..=3 {
        publish(&js, seq, Some(seq - 1)).await.expect("stored");
    }
    events.purge().await.expect("purged");
    let state = events.info().await.expect("info").state.clone();
    assert_eq!(
        (state.messages, state.last_sequence),
        (0, 3),
        "a purge keeps the sequence"
    );

    // The feed resumes at event 101 (say): expected at the stream's last sequence, 3.
    assert_eq!(
        publish(&js, 101, Some(100)).await.map(|_| ()),
        Err(Kind::WrongLastSequence),
        "the event number is not the stream sequence"
    );
    let resumed = publish(&js, 101, Some(3)).await.expect("event 101 stored");
    assert_eq!(resumed.sequence, 4);
    publish(&js, 102, Some(4)).await.expect("event 102 stored");
    assert_eq!(event_at(&events, 5).await, Some("102".to_owned()));
}
