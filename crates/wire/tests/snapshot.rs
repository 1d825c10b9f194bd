//! Snapshots: a state from a random workload survives encoding exactly, a router continued from
//! the decoded state decides what the original decides, and foreign bytes are refused.
//!
//! Runs with `--features snapshot`, which needs the core's `snapshot` feature to compile (see the
//! crate's Cargo.toml). Until then this file compiles to nothing.

#![cfg(feature = "snapshot")]

mod common;

use proptest::prelude::*;
use switchboard_core::State;
use switchboard_wire::snapshot::{FORMAT_VERSION, MAGIC, SnapshotError, schema_fingerprint};
use switchboard_wire::{decode_snapshot, encode_snapshot};

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn a_random_state_survives_a_snapshot(seed in any::<u64>(), steps in 0..400_usize) {
        let centre = common::random_centre(seed, steps);
        let decoded = decode_snapshot(&encode_snapshot(centre.state()));
        let decoded = decoded.map_err(|e| TestCaseError::fail(format!("seed {seed}: {e}")))?;
        prop_assert!(decoded == *centre.state(), "seed {}", seed);
        prop_assert_eq!(decoded.check_invariants(), Ok(()), "seed {}", seed);
        prop_assert_eq!(decoded.next_deadline(), centre.state().next_deadline());
    }

    /// The snapshot loses nothing a router uses: a router over the decoded state and one over
    /// the in-memory state decide the same events for the same commands.
    #[test]
    fn a_router_over_a_decoded_snapshot_decides_as_one_over_the_state_in_memory(
        seed in any::<u64>(),
        before in 0..300_usize,
        after in 1..200_usize,
    ) {
        let (original, workload) = run(seed, before);
        let decoded = decode_snapshot(&encode_snapshot(original.state()))
            .map_err(|e| TestCaseError::fail(format!("seed {seed}: {e}")))?;
        let mut restored = common::centre_over(decoded, original.now);
        let mut in_memory = common::centre_over(original.state().clone(), original.now);
        let (mut a, mut b) = (workload.clone(), workload);
        for _ in 0..after {
            a.step(&mut restored);
            b.step(&mut in_memory);
        }
        prop_assert_eq!(&restored.log, &in_memory.log, "seed {}", seed);
        prop_assert!(restored.state() == in_memory.state(), "seed {}", seed);
    }

    /// A router continued from a snapshot decides what the live router decides, including when
    /// contacts are waiting out a reoffer cool-down (`Router::with_state` rebuilds their wake-ups).
    #[test]
    fn a_router_continued_from_a_snapshot_decides_as_the_live_router(
        seed in any::<u64>(),
        before in 0..300_usize,
        after in 1..200_usize,
    ) {
        let (mut original, workload) = run(seed, before);
        let now = original.now;
        let decoded = decode_snapshot(&encode_snapshot(original.state()))
            .map_err(|e| TestCaseError::fail(format!("seed {seed}: {e}")))?;
        let mut restored = common::centre_over(decoded, now);
        original.log.clear();
        let (mut a, mut b) = (workload.clone(), workload);
        for _ in 0..after {
            a.step(&mut restored);
            b.step(&mut original);
        }
        prop_assert_eq!(&restored.log, &original.log, "seed {}", seed);
        prop_assert!(restored.state() == original.state(), "seed {}", seed);
    }

    #[test]
    fn random_bytes_are_refused_not_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        prop_assert!(decode_snapshot(&bytes).is_err());
        // Behind a valid header, to reach the state decoder.
        let mut framed = header(FORMAT_VERSION, schema_fingerprint());
        framed.extend_from_slice(&bytes);
        let _ = decode_snapshot(&framed);
    }
}

/// A centre after `steps` steps of the workload from `seed`, and the workload to go on with.
fn run(seed: u64, steps: usize) -> (common::Centre, common::Workload) {
    let mut centre = common::centre();
    let mut workload = common::Workload::new(seed);
    for _ in 0..steps {
        workload.step(&mut centre);
    }
    (centre, workload)
}

fn header(version: u32, fingerprint: u64) -> Vec<u8> {
    let mut bytes = MAGIC.to_vec();
    bytes.extend_from_slice(&version.to_le_bytes());
    bytes.extend_from_slice(&fingerprint.to_le_bytes());
    bytes
}

#[test]
fn an_empty_state_round_trips() {
    let decoded = decode_snapshot(&encode_snapshot(&State::new())).expect("decodes");
    assert!(decoded == State::new());
}

#[test]
fn snapshots_of_other_formats_and_builds_are_refused() {
    let good = encode_snapshot(common::golden_centre().state());
    assert!(decode_snapshot(&good).is_ok());

    assert!(matches!(
        decode_snapshot(&good[..10]),
        Err(SnapshotError::TooShort { len: 10 })
    ));

    let mut bad_magic = good.clone();
    bad_magic[0] ^= 0xff;
    assert!(matches!(
        decode_snapshot(&bad_magic),
        Err(SnapshotError::NotASnapshot)
    ));

    let mut other_format = header(FORMAT_VERSION + 1, schema_fingerprint());
    other_format.extend_from_slice(&good[20..]);
    let error = decode_snapshot(&other_format).expect_err("refused");
    assert!(matches!(
        error,
        SnapshotError::UnsupportedFormat { found, expected } if found == FORMAT_VERSION + 1 && expected == FORMAT_VERSION
    ));

    let mut other_build = header(FORMAT_VERSION, schema_fingerprint() ^ 1);
    other_build.extend_from_slice(&good[20..]);
    let error = decode_snapshot(&other_build).expect_err("refused");
    assert!(matches!(error, SnapshotError::SchemaMismatch { .. }));
    assert!(error.to_string().contains("fingerprint"), "{error}");

    let mut trailing = good.clone();
    trailing.push(0);
    assert!(matches!(
        decode_snapshot(&trailing),
        Err(SnapshotError::TrailingBytes { count: 1 })
    ));

    for len in 20..good.len() {
        assert!(
            matches!(
                decode_snapshot(&good[..len]),
                Err(SnapshotError::Malformed(_))
            ),
            "cut at {len}"
        );
    }
}
