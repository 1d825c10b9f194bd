//! The domain's snapshot bucket (`SB_SNAP_<PREFIX>`, docs/cluster.md) in cluster mode: the
//! leader's snapshot thread stores each snapshot there too ([`sink`]), and an engine whose data
//! directory holds no usable snapshot fetches the newest one from it ([`fetch_newest`]) so that
//! it need not apply the whole stream. The bucket is a shortcut, never the truth: a failed
//! upload is logged and counted, a failed fetch is logged, and either way the engine serves.

use std::time::Duration;

use async_nats::jetstream;
use switchboard_engine::SnapshotSink;
use switchboard_jetlog::{SnapshotStore, SnapshotStoreConfig, StoredSnapshot};

use super::{ClusterOptions, chain, measure};

/// The longest an upload may take before it is given up (and counted as failed): the snapshot
/// thread waits for it, and shutdown waits for the snapshot thread.
pub(super) const UPLOAD_MAX: Duration = Duration::from_secs(60);

/// Opens (or makes) the domain's snapshot bucket, replicated as the log stream is.
async fn open(
    context: &jetstream::Context,
    options: &ClusterOptions,
) -> Result<SnapshotStore, switchboard_jetlog::SnapshotStoreError> {
    SnapshotStore::open(
        context,
        SnapshotStoreConfig {
            bucket: options.domain.snapshot_bucket(),
            replicas: options.replicas,
            keep_count: options.engine.snapshot.keep_count as usize,
        },
    )
    .await
}

/// The leader's sink: each snapshot goes to the bucket from the snapshot thread, bounded by
/// [`UPLOAD_MAX`]. `None` (logged and counted) when the bucket cannot be opened: the leader
/// then serves with snapshots in its data directory only.
pub(super) async fn sink(
    context: &jetstream::Context,
    options: &ClusterOptions,
    metrics: &measure::Metrics,
) -> Option<SnapshotSink> {
    let store = match open(context, options).await {
        Ok(store) => store,
        Err(error) => {
            metrics.snapshot_uploaded(false);
            tracing::warn!(error = %chain(&error), "the snapshot bucket cannot be opened; snapshots stay in the data directory");
            return None;
        }
    };
    let handle = tokio::runtime::Handle::current();
    let metrics = metrics.clone();
    Some(SnapshotSink::new(move |seq, head_hash, payload| {
        let put =
            async { tokio::time::timeout(UPLOAD_MAX, store.put(seq, head_hash, payload)).await };
        let failure = match handle.block_on(put) {
            Ok(Ok(())) => {
                metrics.snapshot_uploaded(true);
                tracing::info!(seq, bytes = payload.len(), "snapshot stored in the bucket");
                return;
            }
            Ok(Err(error)) => chain(&error),
            Err(_) => format!("not stored within {UPLOAD_MAX:?}"),
        };
        metrics.snapshot_uploaded(false);
        tracing::warn!(seq, error = %failure, "could not store a snapshot in the bucket; serving goes on");
    }))
}

/// The bucket's snapshots past `after`, newest first, each that could be read (a failure is
/// logged and that snapshot passed over: recovery then uses an older one, or replays the
/// stream). All of them, so that recovery, which checks each against the log, can pass over a
/// damaged newest one to the next without another round trip.
pub(super) async fn fetch_newest_first(
    context: &jetstream::Context,
    options: &ClusterOptions,
    after: u64,
) -> Vec<StoredSnapshot> {
    let listed = match open(context, options).await {
        Ok(store) => store.list().await.map(|seqs| (store, seqs)),
        Err(error) => Err(error),
    };
    let (store, mut seqs) = match listed {
        Ok(listed) => listed,
        Err(error) => {
            tracing::warn!(error = %chain(&error), "could not list the bucket's snapshots; the stream is replayed instead");
            return Vec::new();
        }
    };
    seqs.retain(|&seq| seq > after);
    seqs.sort_unstable_by(|a, b| b.cmp(a));
    let mut fetched = Vec::with_capacity(seqs.len());
    for seq in seqs {
        match store.fetch(seq).await {
            Ok(snapshot) => fetched.push(snapshot),
            Err(error) => {
                tracing::warn!(seq, error = %chain(&error), "could not fetch a snapshot from the bucket; passed over");
            }
        }
    }
    fetched
}
