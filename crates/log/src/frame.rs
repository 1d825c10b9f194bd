//! The byte layout of records and segment headers, and the hash chain.
//!
//! Everything here is pure: no I/O, so the framing can be tested exhaustively on its own. The layout
//! itself is documented in the crate docs (`lib.rs`), which this module must keep true.

use std::fmt;

use crate::error::{LogError, Problem};
use crate::event_log::Record;

/// Bytes of the length field that starts every record.
pub(crate) const LEN_BYTES: usize = 4;
/// Bytes of a record before its payload: length, CRC32C, seq, at_ms and prev_hash.
pub(crate) const RECORD_HEADER_BYTES: usize = 4 + 4 + 8 + 8 + 32;
/// The smallest valid value of the length field (a record with an empty payload).
pub(crate) const RECORD_LEN_MIN: u32 = 52;
const _: () = assert!(RECORD_LEN_MIN as usize == RECORD_HEADER_BYTES - LEN_BYTES);

/// Bytes of the header at the start of every segment file.
pub(crate) const SEGMENT_HEADER_BYTES: usize = 64;
/// The magic bytes that open a segment file.
pub(crate) const SEGMENT_MAGIC: [u8; 8] = *b"SWBDLOG\0";
/// The segment format version this crate writes and reads.
pub(crate) const SEGMENT_VERSION: u32 = 1;

/// A 32-byte BLAKE3 hash of a record: one link of the log's hash chain.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ChainHash(pub [u8; 32]);

impl ChainHash {
    /// The `prev_hash` of the record with seq 1: thirty-two zero bytes.
    pub const GENESIS: ChainHash = ChainHash([0; 32]);

    /// The raw bytes of the hash.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Computes the hash of a record:
    /// `BLAKE3(prev_hash (32 bytes) || seq (u64 LE) || at_ms (u64 LE) || payload)`.
    pub fn of_record(prev_hash: &ChainHash, seq: u64, at_ms: u64, payload: &[u8]) -> ChainHash {
        let mut hasher = blake3::Hasher::new();
        hasher.update(&prev_hash.0);
        hasher.update(&seq.to_le_bytes());
        hasher.update(&at_ms.to_le_bytes());
        hasher.update(payload);
        ChainHash(*hasher.finalize().as_bytes())
    }
}

impl fmt::Display for ChainHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for ChainHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChainHash({self})")
    }
}

/// Where a hash chain stands: the seq the next record must have and the hash its `prev_hash`
/// must equal (the hash of the last record, or [`ChainHash::GENESIS`] before the first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainPosition {
    /// The seq the next record must have.
    pub next_seq: u64,
    /// The hash the next record's `prev_hash` must equal.
    pub head_hash: ChainHash,
}

impl ChainPosition {
    /// The position of an empty log: seq 1 comes next, continuing the genesis hash.
    pub const EMPTY: ChainPosition = ChainPosition {
        next_seq: 1,
        head_hash: ChainHash::GENESIS,
    };
}

/// Frames one record in its stored form, the bytes a segment file holds for it (see the crate
/// docs): the form every backend stores, so that one check verifies them all. The record gets
/// `position.next_seq` and continues `position.head_hash`; returns the bytes and the position
/// after the record.
///
/// # Errors
/// The framed record would exceed `record_bytes_max` ([`LogError::RecordTooLarge`]).
pub fn frame_record(
    position: ChainPosition,
    at_ms: u64,
    payload: &[u8],
    record_bytes_max: u32,
) -> Result<(Vec<u8>, ChainPosition), LogError> {
    let record_bytes = (RECORD_HEADER_BYTES + payload.len()) as u64;
    if record_bytes > u64::from(record_bytes_max) {
        return Err(LogError::RecordTooLarge {
            record_bytes,
            record_bytes_max,
        });
    }
    let mut out = Vec::with_capacity(RECORD_HEADER_BYTES + payload.len());
    let hash = encode_record(
        &mut out,
        position.next_seq,
        at_ms,
        &position.head_hash,
        payload,
    );
    let after = ChainPosition {
        next_seq: position.next_seq + 1,
        head_hash: hash,
    };
    Ok((out, after))
}

/// Decodes one record in its stored form ([`frame_record`]), which must be exactly these bytes:
/// its length bounds and CRC are checked and its own hash computed. Whether it continues a chain
/// is [`ChainPosition::advance`]'s to check.
///
/// # Errors
/// The first [`Problem`] found, as a segment scan would report it.
pub fn unframe_record(framed: &[u8], record_bytes_max: u32) -> Result<Record, Problem> {
    let (record, size) = decode_record(framed, record_bytes_max).map_err(Problem::from)?;
    if size != framed.len() {
        return Err(Problem::LengthOutOfBounds {
            len: u32::try_from(framed.len()).unwrap_or(u32::MAX),
        });
    }
    Ok(Record {
        seq: record.seq,
        at_ms: record.at_ms,
        hash: ChainHash::of_record(&record.prev_hash, record.seq, record.at_ms, record.payload),
        prev_hash: record.prev_hash,
        payload: record.payload.to_vec(),
    })
}

impl ChainPosition {
    /// Checks that `record` continues the chain here (the next seq, a `prev_hash` equal to the
    /// head hash) and moves past it.
    ///
    /// # Errors
    /// [`Problem::SequenceMismatch`] or [`Problem::ChainBroken`]; the position is then unchanged.
    pub fn advance(&mut self, record: &Record) -> Result<(), Problem> {
        check_continues(record.seq, &record.prev_hash, self)?;
        *self = ChainPosition {
            next_seq: record.seq + 1,
            head_hash: record.hash,
        };
        Ok(())
    }
}

/// Whether a record with this seq and `prev_hash` continues the chain at `position`: the next
/// seq, and a `prev_hash` equal to the head hash. The one check of the chain, for scans, readers
/// and other backends.
pub(crate) fn check_continues(
    seq: u64,
    prev_hash: &ChainHash,
    position: &ChainPosition,
) -> Result<(), Problem> {
    if seq != position.next_seq {
        return Err(Problem::SequenceMismatch {
            expected: position.next_seq,
            found: seq,
        });
    }
    if *prev_hash != position.head_hash {
        return Err(Problem::ChainBroken {
            expected: position.head_hash,
            found: *prev_hash,
        });
    }
    Ok(())
}

/// The CRC32C of a framed record: over the 4 length bytes, then everything after the CRC field.
pub(crate) fn record_crc(len_bytes: &[u8], rest: &[u8]) -> u32 {
    crc32c::crc32c_append(crc32c::crc32c(len_bytes), rest)
}

/// Appends one framed record to `out` and returns the record's chain hash.
///
/// The caller has checked that the payload fits the record size limit, so the length fits a u32.
pub(crate) fn encode_record(
    out: &mut Vec<u8>,
    seq: u64,
    at_ms: u64,
    prev_hash: &ChainHash,
    payload: &[u8],
) -> ChainHash {
    let start = out.len();
    let len = RECORD_LEN_MIN as usize + payload.len();
    // The caller bounds payloads by `record_bytes_max`, which is at most 1 GiB; a wider length is a
    // bug in this crate, not bad input.
    let len = u32::try_from(len).expect("record length bounded by record_bytes_max");
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&at_ms.to_le_bytes());
    out.extend_from_slice(&prev_hash.0);
    out.extend_from_slice(payload);
    let crc = record_crc(&out[start..start + 4], &out[start + 8..]);
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    ChainHash::of_record(prev_hash, seq, at_ms, payload)
}

/// Computes the chain hash of the record framed in `framed` (checked by [`decode_record`]) in one
/// contiguous BLAKE3 call, using bytes 8..56 as scratch: they are rewritten as
/// `prev_hash || seq || at_ms`, the hash's input order, so the payload after them completes it.
/// The payload is untouched; the frame is no longer valid afterwards. Equal to
/// [`ChainHash::of_record`], and faster for small records (replay spends most of its time here).
pub(crate) fn hash_framed_in_place(framed: &mut [u8]) -> ChainHash {
    let seq: [u8; 8] = read_array(framed, 8);
    let at_ms: [u8; 8] = read_array(framed, 16);
    framed.copy_within(24..56, 8);
    framed[40..48].copy_from_slice(&seq);
    framed[48..56].copy_from_slice(&at_ms);
    ChainHash(*blake3::hash(&framed[8..]).as_bytes())
}

/// A record decoded from a byte slice, borrowing its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RecordRef<'a> {
    /// The record's sequence number.
    pub(crate) seq: u64,
    /// Event time, ms since the Unix epoch.
    pub(crate) at_ms: u64,
    /// The hash of the previous record (or genesis).
    pub(crate) prev_hash: ChainHash,
    /// The opaque payload.
    pub(crate) payload: &'a [u8],
}

/// Why bytes did not decode as a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FrameError {
    /// Fewer bytes than the record needs: `needed` in total from the record's start.
    Incomplete {
        /// Bytes needed from the start of the record (known once the length field is complete).
        needed: Option<u64>,
    },
    /// The length field is below the minimum or above the record size limit.
    LengthOutOfBounds {
        /// The length field as read.
        len: u32,
    },
    /// The CRC32C stored in the record does not match its bytes.
    CrcMismatch,
}

impl From<FrameError> for Problem {
    fn from(error: FrameError) -> Self {
        match error {
            FrameError::CrcMismatch => Problem::CrcMismatch,
            FrameError::LengthOutOfBounds { len } => Problem::LengthOutOfBounds { len },
            FrameError::Incomplete { .. } => Problem::Truncated,
        }
    }
}

/// Reads the length field and returns the total framed size of the record, bounded.
pub(crate) fn framed_len(len_bytes: [u8; 4], record_bytes_max: u32) -> Result<usize, FrameError> {
    let len = u32::from_le_bytes(len_bytes);
    if len < RECORD_LEN_MIN || u64::from(len) + LEN_BYTES as u64 > u64::from(record_bytes_max) {
        return Err(FrameError::LengthOutOfBounds { len });
    }
    Ok(len as usize + LEN_BYTES)
}

/// Decodes the record at the start of `bytes`; returns it and its framed size.
pub(crate) fn decode_record(
    bytes: &[u8],
    record_bytes_max: u32,
) -> Result<(RecordRef<'_>, usize), FrameError> {
    let Some(len_bytes) = bytes.first_chunk::<4>() else {
        return Err(FrameError::Incomplete { needed: None });
    };
    let total = framed_len(*len_bytes, record_bytes_max)?;
    let Some(record) = bytes.get(..total) else {
        return Err(FrameError::Incomplete {
            needed: Some(total as u64),
        });
    };
    let stored_crc = u32::from_le_bytes(read_array(record, 4));
    if record_crc(&record[..4], &record[8..]) != stored_crc {
        return Err(FrameError::CrcMismatch);
    }
    let record_ref = RecordRef {
        seq: u64::from_le_bytes(read_array(record, 8)),
        at_ms: u64::from_le_bytes(read_array(record, 16)),
        prev_hash: ChainHash(read_array(record, 24)),
        payload: &record[RECORD_HEADER_BYTES..],
    };
    Ok((record_ref, total))
}

/// Copies `N` bytes at `at`; the caller has checked the slice is long enough.
fn read_array<const N: usize>(bytes: &[u8], at: usize) -> [u8; N] {
    let mut out = [0; N];
    out.copy_from_slice(&bytes[at..at + N]);
    out
}

/// The header at the start of every segment file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SegmentHeader {
    /// The seq of the first record in the segment (also the file's name).
    pub(crate) first_seq: u64,
    /// The chain hash entering the segment: the hash of record `first_seq - 1`, or genesis.
    pub(crate) prev_hash: ChainHash,
}

impl SegmentHeader {
    /// Encodes the header into its fixed 64 bytes.
    pub(crate) fn encode(&self) -> [u8; SEGMENT_HEADER_BYTES] {
        let mut out = [0; SEGMENT_HEADER_BYTES];
        out[0..8].copy_from_slice(&SEGMENT_MAGIC);
        out[8..12].copy_from_slice(&SEGMENT_VERSION.to_le_bytes());
        // Bytes 12..16 are reserved and zero.
        out[16..24].copy_from_slice(&self.first_seq.to_le_bytes());
        out[24..56].copy_from_slice(&self.prev_hash.0);
        let crc = crc32c::crc32c(&out[..56]);
        out[56..60].copy_from_slice(&crc.to_le_bytes());
        // Bytes 60..64 are reserved and zero.
        out
    }

    /// Decodes and checks a header; the error says what is wrong with it.
    pub(crate) fn decode(bytes: &[u8; SEGMENT_HEADER_BYTES]) -> Result<Self, &'static str> {
        if bytes[0..8] != SEGMENT_MAGIC {
            return Err("bad magic: not a switchboard-log segment");
        }
        let stored_crc = u32::from_le_bytes(read_array(bytes, 56));
        if crc32c::crc32c(&bytes[..56]) != stored_crc {
            return Err("segment header CRC32C mismatch");
        }
        if u32::from_le_bytes(read_array(bytes, 8)) != SEGMENT_VERSION {
            return Err("unsupported segment format version");
        }
        Ok(SegmentHeader {
            first_seq: u64::from_le_bytes(read_array(bytes, 16)),
            prev_hash: ChainHash(read_array(bytes, 24)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MAX: u32 = 1 << 20;

    proptest! {
        #[test]
        fn record_round_trips(
            seq in any::<u64>(),
            at_ms in any::<u64>(),
            prev in any::<[u8; 32]>(),
            payload in proptest::collection::vec(any::<u8>(), 0..2048),
            prefix in proptest::collection::vec(any::<u8>(), 0..16),
        ) {
            let prev = ChainHash(prev);
            let mut out = prefix.clone();
            let hash = encode_record(&mut out, seq, at_ms, &prev, &payload);
            prop_assert_eq!(out.len(), prefix.len() + RECORD_HEADER_BYTES + payload.len());
            let (record, size) = decode_record(&out[prefix.len()..], MAX).unwrap();
            prop_assert_eq!(size, RECORD_HEADER_BYTES + payload.len());
            prop_assert_eq!(record.seq, seq);
            prop_assert_eq!(record.at_ms, at_ms);
            prop_assert_eq!(record.prev_hash, prev);
            prop_assert_eq!(record.payload, &payload[..]);
            prop_assert_eq!(hash, ChainHash::of_record(&prev, seq, at_ms, &payload));
        }

        #[test]
        fn hashing_in_place_equals_the_definition(
            seq in any::<u64>(),
            at_ms in any::<u64>(),
            prev in any::<[u8; 32]>(),
            payload in proptest::collection::vec(any::<u8>(), 0..3000),
        ) {
            let prev = ChainHash(prev);
            let mut out = Vec::new();
            let hash = encode_record(&mut out, seq, at_ms, &prev, &payload);
            prop_assert_eq!(hash_framed_in_place(&mut out), hash);
            prop_assert_eq!(&out[RECORD_HEADER_BYTES..], &payload[..]);
        }

        #[test]
        fn every_short_prefix_is_incomplete(
            payload in proptest::collection::vec(any::<u8>(), 0..300),
            cut_seed in any::<usize>(),
        ) {
            let mut out = Vec::new();
            encode_record(&mut out, 7, 9, &ChainHash::GENESIS, &payload);
            let cut = cut_seed % out.len();
            prop_assert!(cut < out.len());
            let result = decode_record(&out[..cut], MAX);
            prop_assert!(
                matches!(result, Err(FrameError::Incomplete { .. })),
                "cut {} gave {:?}", cut, result
            );
        }

        #[test]
        fn any_single_bit_flip_is_detected(
            payload in proptest::collection::vec(any::<u8>(), 0..300),
            bit in any::<prop::sample::Index>(),
        ) {
            let mut out = Vec::new();
            encode_record(&mut out, 7, 9, &ChainHash::GENESIS, &payload);
            let bit = bit.index(out.len() * 8);
            out[bit / 8] ^= 1 << (bit % 8);
            prop_assert!(decode_record(&out, MAX).is_err());
        }

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode_record(&bytes, MAX);
        }

        #[test]
        fn segment_header_round_trips(first_seq in any::<u64>(), prev in any::<[u8; 32]>()) {
            let header = SegmentHeader { first_seq, prev_hash: ChainHash(prev) };
            prop_assert_eq!(SegmentHeader::decode(&header.encode()), Ok(header));
        }
    }

    #[test]
    fn length_is_bounded_before_anything_is_read() {
        let mut out = Vec::new();
        encode_record(&mut out, 1, 1, &ChainHash::GENESIS, &[0; 100]);
        assert_eq!(
            decode_record(&out, 100),
            Err(FrameError::LengthOutOfBounds { len: 152 })
        );
        out[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(
            decode_record(&out, MAX),
            Err(FrameError::LengthOutOfBounds { len: u32::MAX })
        );
        out[..4].copy_from_slice(&3u32.to_le_bytes());
        assert_eq!(
            decode_record(&out, MAX),
            Err(FrameError::LengthOutOfBounds { len: 3 })
        );
    }

    #[test]
    fn hash_definition_is_stable() {
        // Pins the chain definition: changing it would orphan every existing log.
        let mut hasher = blake3::Hasher::new();
        hasher.update(&[0; 32]);
        hasher.update(&1u64.to_le_bytes());
        hasher.update(&2u64.to_le_bytes());
        hasher.update(b"payload");
        assert_eq!(
            ChainHash::of_record(&ChainHash::GENESIS, 1, 2, b"payload").0,
            *hasher.finalize().as_bytes()
        );
        assert_ne!(
            ChainHash::of_record(&ChainHash::GENESIS, 1, 2, b"payload"),
            ChainHash::of_record(&ChainHash::GENESIS, 2, 1, b"payload")
        );
    }
}
