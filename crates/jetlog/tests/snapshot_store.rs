//! The snapshot bucket on a real three-node cluster: what is put is read back with its stamp,
//! the newest wins, only `keep_count` are kept, an empty bucket has none, and an object that is
//! not a stamped snapshot is refused as damaged.

mod common;

use switchboard_jetlog::{SnapshotStore, SnapshotStoreConfig, SnapshotStoreError};
use switchboard_log::ChainHash;
use switchboard_natsd::NatsCluster;

use common::{connect, context, runtime};

#[test]
fn the_newest_snapshot_reads_back_with_its_stamp_and_only_a_few_are_kept() {
    let cluster = NatsCluster::start().expect("start a 3-node cluster");
    let rt = runtime();
    let client = rt.block_on(connect(&cluster));
    let context = context(&rt, &client);
    rt.block_on(async {
        let config = SnapshotStoreConfig {
            bucket: "SB_SNAP_TEST".to_owned(),
            replicas: 3,
            keep_count: 2,
        };
        let store = SnapshotStore::open(&context, config.clone())
            .await
            .expect("open the bucket");
        assert_eq!(store.newest().await.expect("read an empty bucket"), None);
        let mut hash = ChainHash::GENESIS;
        // Larger than one object-store chunk (128 KiB), so that chunks are put back in order.
        let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        for seq in [10u64, 20, 30] {
            hash = ChainHash::of_record(&hash, seq, seq, b"event");
            let mut payload = big.clone();
            payload.extend_from_slice(&seq.to_le_bytes());
            store
                .put(seq, hash, &payload)
                .await
                .expect("put a snapshot");
        }
        // Another handle on the same bucket (as another engine would open it).
        let other = SnapshotStore::open(&context, config).await.expect("reopen");
        let newest = other.newest().await.expect("read").expect("a snapshot");
        assert_eq!(newest.seq, 30);
        assert_eq!(newest.head_hash, hash);
        assert_eq!(&newest.payload[..big.len()], &big[..]);
        assert_eq!(newest.payload[big.len()..], 30u64.to_le_bytes());
        let mut kept = other.list().await.expect("list");
        kept.sort_unstable();
        assert_eq!(kept, vec![20, 30]);

        // An object that is not a stamped snapshot is refused, not trusted.
        let bucket = context
            .get_object_store("SB_SNAP_TEST")
            .await
            .expect("bucket");
        bucket
            .put("snapshot-00000000000000000040", &mut &b"junk"[..])
            .await
            .expect("put a stranger");
        match other.newest().await {
            Err(SnapshotStoreError::Damaged { object, .. }) => {
                assert_eq!(object, "snapshot-00000000000000000040");
            }
            got => panic!("expected a damaged snapshot, got {got:?}"),
        }
    });
}
