//! What the events feed relies on from JetStream, checked against the pinned nats-server: a run
//! of events goes as one atomic batch (`allow_atomic`) with one acknowledgement, carrying the
//! last message's stream sequence; `Nats-Expected-Last-Sequence` on its first message refuses
//! it whole unless the stream ends there; a batch repeating a stored event, or missing a
//! message, is refused whole; a lone event is a plain publish, checked the same way (the
//! expected sequence before the duplicate window).

use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::context::PublishErrorKind as Kind;
use async_nats::jetstream::{self, stream};
use switchboard_natsd::NatsServer;

/// The headers of event `seq`, message `index` (from 0) of `count` in batch `batch`, as the
/// feed writes them.
fn headers(seq: u64, index: u64, count: u64, batch: &str, expected: Option<u64>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("Nats-Msg-Id", seq.to_string().as_str());
    headers.insert(switchboard_nats::SEQ_HEADER, seq.to_string().as_str());
    if let Some(last) = expected.filter(|_| index == 0) {
        headers.insert("Nats-Expected-Last-Sequence", last.to_string().as_str());
    }
    if count > 1 {
        headers.insert("Nats-Batch-Id", batch);
        headers.insert("Nats-Batch-Sequence", (index + 1).to_string().as_str());
        if index + 1 == count {
            headers.insert("Nats-Batch-Commit", "1");
        }
    }
    headers
}

/// Publishes events `seqs` as the feed does (several: an atomic batch, all but the last
/// without a reply; `skip`: a message lost on the way), expecting `expected` as the stream's
/// last sequence; the acknowledgement, or the error.
async fn publish_run(
    js: &jetstream::Context,
    seqs: std::ops::RangeInclusive<u64>,
    expected: Option<u64>,
    skip: Option<u64>,
) -> Result<jetstream::publish::PublishAck, jetstream::context::PublishError> {
    let client = js.client();
    let batch = client
        .new_inbox()
        .rsplit('.')
        .next()
        .unwrap_or("b")
        .to_owned();
    let (first, last) = (*seqs.start(), *seqs.end());
    let count = last - first + 1;
    for seq in first..last {
        if skip == Some(seq) {
            continue;
        }
        let headers = headers(seq, seq - first, count, &batch, expected);
        client
            .publish_with_headers("feed.events.test", headers, seq.to_string().into())
            .await
            .expect("a core publish");
    }
    let headers = headers(last, count - 1, count, &batch, expected);
    let ack = js
        .publish_with_headers("feed.events.test", headers, last.to_string().into())
        .await?;
    tokio::time::timeout(Duration::from_secs(10), ack)
        .await
        .expect("an answer in time")
}

/// The `Switchboard-Seq` of every message of the stream, in order.
async fn stored(events: &mut stream::Stream) -> Vec<u64> {
    let state = events.info().await.expect("info").state.clone();
    let mut seqs = Vec::new();
    for stream_seq in state.first_sequence..=state.last_sequence {
        let message = events.get_raw_message(stream_seq).await.expect("stored");
        let seq = message
            .headers
            .get(switchboard_nats::SEQ_HEADER)
            .and_then(|v| v.as_str().parse().ok())
            .expect("a Switchboard-Seq");
        seqs.push(seq);
    }
    seqs
}

#[tokio::test]
async fn a_run_of_events_is_stored_whole_and_in_order_or_refused_whole() {
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
            allow_atomic_publish: true,
            ..Default::default()
        })
        .await
        .expect("the stream");

    // An empty stream's last sequence is 0.
    let ack = publish_run(&js, 1..=3, Some(0), None)
        .await
        .expect("a batch");
    assert_eq!((ack.sequence, ack.duplicate), (3, false));
    assert_eq!(ack.batch_size, Some(3), "one acknowledgement for three");

    // A batch whose expected last is wrong (an earlier run failed) is refused whole.
    let refused = publish_run(&js, 5..=6, Some(4), None).await.map(|_| ());
    assert_eq!(refused.map_err(|e| e.kind()), Err(Kind::WrongLastSequence));
    // Its acknowledgement lost, a stored batch sent again is refused whole, not stored twice.
    let again = publish_run(&js, 1..=3, Some(0), None).await.map(|_| ());
    assert!(again.is_err(), "a stored batch again: {again:?}");
    // A batch missing a message on the way is refused whole.
    let torn = publish_run(&js, 4..=6, Some(3), Some(5)).await.map(|_| ());
    assert!(torn.is_err(), "a batch with a gap: {torn:?}");
    assert_eq!(stored(&mut events).await, vec![1, 2, 3]);

    // A lone event is a plain publish, checked the same way; its copy is refused for order
    // (the expected last sequence is checked before the duplicate window), not stored twice.
    let lone = publish_run(&js, 4..=4, Some(3), None)
        .await
        .expect("event 4");
    assert_eq!((lone.sequence, lone.duplicate), (4, false));
    let copy = publish_run(&js, 4..=4, Some(3), None).await.map(|_| ());
    assert_eq!(copy.map_err(|e| e.kind()), Err(Kind::WrongLastSequence));
    // Without the check, the duplicate window names where it was stored.
    let copy = publish_run(&js, 4..=4, None, None)
        .await
        .expect("a duplicate");
    assert_eq!((copy.sequence, copy.duplicate), (4, true));
    let ack = publish_run(&js, 5..=7, Some(4), None)
        .await
        .expect("a batch");
    assert_eq!(ack.sequence, 7);
    assert_eq!(stored(&mut events).await, (1..=7).collect::<Vec<_>>());
}
