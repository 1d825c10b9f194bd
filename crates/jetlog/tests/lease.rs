//! The leadership lease on a real three-node cluster: one holder among contenders, renewal by
//! revision, a holder that stops renewing loses the lease and its late renewal fails, a release
//! hands it over at once.

mod common;

use std::time::{Duration, Instant};

use switchboard_jetlog::{Lease, LeaseConfig, LeaseError};
use switchboard_natsd::NatsCluster;

use common::{connect, context, eventually, runtime};

/// The TTL of the tests' leases: short, so that a lapse is quick to wait for.
const TTL: Duration = Duration::from_secs(2);

fn config(bucket: &str, holder: &str) -> LeaseConfig {
    LeaseConfig {
        bucket: bucket.to_owned(),
        key: "council".to_owned(),
        holder: holder.to_owned(),
        ttl: TTL,
        replicas: 3,
    }
}

/// Tries to take `lease` until it succeeds, within a bound.
async fn acquire_when_free(lease: &mut Lease) {
    // Each try borrows the lease mutably; a mutex hands it to one try at a time.
    let lease = tokio::sync::Mutex::new(lease);
    eventually("the lease lapses", || async {
        match lease.lock().await.acquire().await {
            Ok(()) => Some(()),
            Err(LeaseError::Held { .. }) => None,
            Err(other) => panic!("acquire failed: {other}"),
        }
    })
    .await;
}

#[test]
fn of_two_contenders_one_holds_the_lease_and_renews_it() {
    let cluster = NatsCluster::start().expect("cluster");
    let rt = runtime();
    rt.block_on(async {
        let client = connect(&cluster).await;
        let js = async_nats::jetstream::new(client);
        let mut a = Lease::open(&js, config("leases", "node-a"))
            .await
            .expect("a");
        let mut b = Lease::open(&js, config("leases", "node-b"))
            .await
            .expect("b");
        let (got_a, got_b) = tokio::join!(a.acquire(), b.acquire());
        let (winner, loser, refusal) = match (got_a, got_b) {
            (Ok(()), Err(refusal)) => (&mut a, &mut b, refusal),
            (Err(refusal), Ok(())) => (&mut b, &mut a, refusal),
            other => panic!("exactly one contender must win: {other:?}"),
        };
        let holder = winner.config().holder.clone();
        // The holder is named, unless the replica that answered the loser's read had not yet
        // stored the winner's write.
        match refusal {
            LeaseError::Held { holder: named, .. } => {
                assert!(named == holder || named.is_empty(), "{named:?}");
            }
            other => panic!("the loser was told {other}"),
        }
        assert!(winner.is_held(Instant::now()));
        assert!(!loser.is_held(Instant::now()));
        eventually("the holder is read back", || async {
            (loser.holder().await.expect("holder") == Some(holder.clone())).then_some(())
        })
        .await;
        for _ in 0..3 {
            winner.renew().await.expect("renew");
            assert!(matches!(
                loser.acquire().await,
                Err(LeaseError::Held { .. })
            ));
        }
        assert!(matches!(
            loser.renew().await,
            Err(LeaseError::NotHeld { .. })
        ));

        // Another TTL on the same bucket is refused: every node must agree on it.
        let mut other = config("leases", "node-c");
        other.ttl = TTL * 2;
        assert!(matches!(
            Lease::open(&js, other).await,
            Err(LeaseError::TtlMismatch { .. })
        ));
    });
}

#[test]
fn a_holder_that_stops_renewing_loses_the_lease_and_its_late_renewal_fails() {
    let cluster = NatsCluster::start().expect("cluster");
    let rt = runtime();
    let client = rt.block_on(connect(&cluster));
    let js = context(&rt, &client);
    rt.block_on(async {
        let mut zombie = Lease::open(&js, config("lapse", "zombie"))
            .await
            .expect("zombie");
        let mut standby = Lease::open(&js, config("lapse", "standby"))
            .await
            .expect("standby");
        zombie.acquire().await.expect("take");
        let renewed_at = Instant::now();
        zombie.renew().await.expect("renew");
        // The zombie stalls (a stop signal, a long pause): it renews no more. The standby
        // takes the lease once the entry has expired on the servers.
        acquire_when_free(&mut standby).await;
        let taken_at = Instant::now();
        assert!(
            taken_at >= renewed_at + TTL,
            "the lease was taken {:?} after a renewal, within its TTL {TTL:?}",
            taken_at - renewed_at
        );
        // By its own clock the zombie knows its hold ended...
        assert!(!zombie.is_held(taken_at));
        // ...and the servers refuse its late renewal.
        match zombie.renew().await {
            Err(LeaseError::Lost { .. }) => {}
            other => panic!("the zombie's renewal was not refused: {other:?}"),
        }
        assert!(!zombie.is_held(Instant::now()));
        eventually("the new holder is read back", || async {
            (zombie.holder().await.expect("holder") == Some("standby".to_owned())).then_some(())
        })
        .await;
        standby.renew().await.expect("the new holder renews");
    });
}

#[test]
fn a_released_lease_is_free_at_once() {
    let cluster = NatsCluster::start().expect("cluster");
    let rt = runtime();
    rt.block_on(async {
        let client = connect(&cluster).await;
        let js = async_nats::jetstream::new(client);
        let mut leaving = Lease::open(&js, config("release", "leaving"))
            .await
            .expect("leaving");
        let mut next = Lease::open(&js, config("release", "next"))
            .await
            .expect("next");
        leaving.acquire().await.expect("take");
        assert!(matches!(next.acquire().await, Err(LeaseError::Held { .. })));
        leaving.release().await.expect("release");
        assert!(!leaving.is_held(Instant::now()));
        next.acquire().await.expect("free at once after a release");
        assert!(matches!(
            leaving.renew().await,
            Err(LeaseError::NotHeld { .. })
        ));
    });
}
