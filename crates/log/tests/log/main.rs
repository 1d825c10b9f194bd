//! Integration tests of the event log: round trips, recovery, crashes, tampering, snapshots and
//! group commit, all against real files in temporary directories; a full disk on a small tmpfs.

#![expect(
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::print_stderr,
    reason = "test helpers outside `#[test]` functions may unwrap (a failure is the test \
              failing), truncate small test numbers into bytes, and print a failing seed"
)]

mod common;
mod crash;
mod disk_full;
mod group_commit;
mod recovery;
mod round_trip;
mod snapshots;
