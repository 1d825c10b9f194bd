//! Snapshots of the routing state: a disposable cache that bounds recovery time.
//!
//! # Format
//!
//! ```text
//! magic  "SWBSNAP\0"     8 bytes
//! format version         u32, little endian   (FORMAT_VERSION)
//! schema fingerprint     u64, little endian   (schema_fingerprint())
//! state                  postcard encoding of switchboard_core::State (its `snapshot` feature)
//! ```
//!
//! Unlike events, snapshots are **not** kept readable across versions: the state's serde shape
//! follows the core's in-memory structs and changes whenever they do. A snapshot whose magic,
//! format version or schema fingerprint differs from this build's is refused with a
//! [`SnapshotError`], and the caller falls back to replaying the log, which is the truth.
//!
//! The fingerprint is a 64-bit FNV-1a hash of [`SCHEMA_REVISION`] followed by the postcard
//! encoding of a *probe*: the state a small fixed scenario leaves in a real router. A change to
//! the shape of `State` or of anything in it (a field added, removed, reordered or retyped, an
//! enum variant moved) changes the probe's bytes and so the fingerprint, without anyone having to
//! remember to bump a constant. A change the probe cannot see (a type whose values in the probe
//! happen to encode the same) needs [`SCHEMA_REVISION`] bumped by hand. A change of routing
//! behaviour also changes the probe; the only cost is one replay after upgrading.
//!
//! The state's derived index is not stored; [`decode_snapshot`] rebuilds it. Decoding checks the
//! header and that every byte was used, not the state's cross-references: a snapshot is local
//! data whose integrity the log's checksums cover. Call `State::check_invariants` to check them
//! (it costs time in proportion to contacts × agents).

use std::sync::OnceLock;
use std::time::Duration;

use switchboard_core::{
    AgentLogin, Channel, Command, Level, NewContact, OfferId, Outcome, Router, RoutingConfig,
    State, Tier, Timestamp,
};

/// The first bytes of every snapshot.
pub const MAGIC: [u8; 8] = *b"SWBSNAP\0";

/// The layout of the header and body. Bump when the layout above changes.
pub const FORMAT_VERSION: u32 = 1;

/// A hand-kept revision of the state's schema, hashed into the fingerprint. Bump it when the
/// state's serde shape changes in a way the probe scenario cannot see.
/// Revision 2: an agent's `idle_since` is kept from when they last let go of occupying work,
/// not of all work (a snapshot of revision 1 holds older values, so it is refused and the log
/// replayed). Revision 3: a contact records whether it was recorded unservable (`unservable`).
pub const SCHEMA_REVISION: &str = "switchboard-core State, revision 3";

/// The header's length in bytes.
const HEADER_LEN: usize = MAGIC.len() + 4 + 8;

/// Why a snapshot was refused.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// Shorter than the header: not a snapshot, or cut short.
    #[error("snapshot is {len} bytes, shorter than its {HEADER_LEN}-byte header")]
    TooShort {
        /// The length found.
        len: usize,
    },
    /// The first bytes are not the snapshot magic.
    #[error("not a Switchboard snapshot (bad magic)")]
    NotASnapshot,
    /// Written in another snapshot format version.
    #[error("snapshot format version {found}; this build reads version {expected}")]
    UnsupportedFormat {
        /// The version in the snapshot.
        found: u32,
        /// The version this build reads.
        expected: u32,
    },
    /// Written by a build whose state has another shape.
    #[error("snapshot schema fingerprint {found:#018x}; this build's is {expected:#018x}")]
    SchemaMismatch {
        /// The fingerprint in the snapshot.
        found: u64,
        /// This build's fingerprint.
        expected: u64,
    },
    /// The body does not decode as a state (truncated or corrupt).
    #[error("malformed snapshot body: {0}")]
    Malformed(#[source] postcard::Error),
    /// The state decoded but bytes were left over.
    #[error("{count} bytes left over after the snapshot's state")]
    TrailingBytes {
        /// How many bytes were left.
        count: usize,
    },
}

/// Encodes `state` as a snapshot.
#[must_use]
pub fn encode_snapshot(state: &State) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(HEADER_LEN + 4096);
    bytes.extend_from_slice(&MAGIC);
    bytes.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    bytes.extend_from_slice(&schema_fingerprint().to_le_bytes());
    // Cannot fail: postcard fails only for sequences of unknown length and for errors a type
    // raises itself; the state has neither (its maps and lists know their lengths).
    postcard::to_extend(state, bytes).expect("the routing state has a postcard encoding")
}

/// Decodes a snapshot written by this build, with its index rebuilt.
///
/// # Errors
/// A [`SnapshotError`] when the bytes are not a snapshot of this build's format and schema or do
/// not decode. The caller should then replay the log instead.
pub fn decode_snapshot(bytes: &[u8]) -> Result<State, SnapshotError> {
    let Some((magic, rest)) = bytes.split_first_chunk::<8>() else {
        return Err(SnapshotError::TooShort { len: bytes.len() });
    };
    let Some((version, rest)) = rest.split_first_chunk::<4>() else {
        return Err(SnapshotError::TooShort { len: bytes.len() });
    };
    let Some((fingerprint, body)) = rest.split_first_chunk::<8>() else {
        return Err(SnapshotError::TooShort { len: bytes.len() });
    };
    if *magic != MAGIC {
        return Err(SnapshotError::NotASnapshot);
    }
    let version = u32::from_le_bytes(*version);
    if version != FORMAT_VERSION {
        return Err(SnapshotError::UnsupportedFormat {
            found: version,
            expected: FORMAT_VERSION,
        });
    }
    let fingerprint = u64::from_le_bytes(*fingerprint);
    if fingerprint != schema_fingerprint() {
        return Err(SnapshotError::SchemaMismatch {
            found: fingerprint,
            expected: schema_fingerprint(),
        });
    }
    let (mut state, rest) =
        postcard::take_from_bytes::<State>(body).map_err(SnapshotError::Malformed)?;
    if !rest.is_empty() {
        return Err(SnapshotError::TrailingBytes { count: rest.len() });
    }
    state.rebuild_index();
    Ok(state)
}

/// This build's schema fingerprint (computed once per process; see the module docs).
#[must_use]
pub fn schema_fingerprint() -> u64 {
    static FINGERPRINT: OnceLock<u64> = OnceLock::new();
    *FINGERPRINT.get_or_init(|| {
        let probe = postcard::to_allocvec(&probe_state()).unwrap_or_default();
        fnv1a(&[SCHEMA_REVISION.as_bytes(), &probe])
    })
}

/// 64-bit FNV-1a over the parts in turn: small, stable, and good enough to tell shapes apart.
fn fnv1a(parts: &[&[u8]]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    parts
        .iter()
        .flat_map(|part| part.iter())
        .fold(OFFSET, |hash, &byte| {
            (hash ^ u64::from(byte)).wrapping_mul(PRIME)
        })
}

/// The state a small fixed scenario leaves: agents in several presences, contacts of every
/// channel queued, offered and assigned, a finished contact with a customer, and counters.
/// Rejected commands are ignored: the probe only has to be the same for the same build.
fn probe_state() -> State {
    let Ok(mut router) = Router::new(RoutingConfig::default()) else {
        return State::new();
    };
    let level = |n| Level::new(n).unwrap_or(Level::MIN);
    let login = |agent: &str, tier: u8, skills: &[(&str, u8)]| {
        Command::LoginAgent(Box::new(AgentLogin {
            agent: agent.into(),
            name: agent.into(),
            tier: Tier::new(tier).unwrap_or(Tier::FIRST),
            site: "hq".into(),
            skills: skills.iter().map(|&(s, l)| (s.into(), level(l))).collect(),
            channels: None,
        }))
    };
    let contact = |id: &str, channel| NewContact::routine(id, channel, "council_tax");
    let mut vulnerable = contact("c2", Channel::Chat);
    vulnerable.vulnerable = true;
    vulnerable.customer = Some("cust1".into());
    vulnerable.attributes = vec![("case".into(), "42".into())];
    let mut walk_in = contact("c4", Channel::FaceToFace);
    walk_in.site = Some("hq".into());
    let t = |s| Timestamp::from_millis(1_000_000) + Duration::from_secs(s);
    let script = [
        (0, login("ann", 1, &[("council_tax", 3), ("polish", 4)])),
        (0, login("bob", 2, &[("council_tax", 2)])),
        (
            1,
            Command::MakeReady {
                agent: "ann".into(),
            },
        ),
        (
            2,
            Command::CreateContact(Box::new(contact("c1", Channel::Phone))),
        ),
        (
            3,
            Command::AcceptOffer {
                agent: "ann".into(),
                offer: OfferId::new(1),
            },
        ),
        (
            4,
            Command::CompleteContact {
                agent: "ann".into(),
                contact: "c1".into(),
                outcome: Outcome::Resolved,
            },
        ),
        (5, Command::CreateContact(Box::new(vulnerable))),
        (
            6,
            Command::CreateContact(Box::new(contact("c3", Channel::Email))),
        ),
        (7, Command::CreateContact(Box::new(walk_in))),
        (
            8,
            Command::CreateContact(Box::new(contact("c5", Channel::Callback))),
        ),
        (
            9,
            Command::MakeReady {
                agent: "bob".into(),
            },
        ),
    ];
    for (secs, command) in script {
        let _ = router.handle_command(command, t(secs));
        router.drain_events().for_each(drop);
    }
    router.handle_timeout(t(45));
    router.drain_events().for_each(drop);
    router.into_state()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_is_deterministic_and_not_empty() {
        let probe = probe_state();
        assert!(probe.agents().len() == 2 && probe.contacts().len() >= 3);
        assert!(probe == probe_state());
        assert_eq!(
            postcard::to_allocvec(&probe).ok(),
            postcard::to_allocvec(&probe_state()).ok()
        );
    }

    #[test]
    fn fnv1a_matches_the_reference_vectors() {
        assert_eq!(fnv1a(&[b""]), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(&[b"a"]), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(&[b"foo", b"bar"]), fnv1a(&[b"foobar"]));
    }
}
