//! The full audit of a log directory: every record's CRC, the dense sequence and the whole hash
//! chain across segments, read-only. Backs `switchboard audit verify`.

use std::path::Path;

use crate::error::{Corruption, LogError, Problem};
use crate::file_log::{LogOptions, TornTail};
use crate::frame::ChainHash;
use crate::segment::{self, ChainPosition, Entering};

/// What a successful [`verify`] checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Segment files checked.
    pub segment_count: u32,
    /// Records checked.
    pub records: u64,
    /// Bytes read, headers and torn tail included.
    pub bytes: u64,
    /// The last valid seq (0 when the log is empty).
    pub last_seq: u64,
    /// The chain hash of that record: compare it with a head hash recorded elsewhere to detect
    /// tampering with, or removal of, the log's final records, which the chain alone cannot see.
    pub head_hash: ChainHash,
    /// A torn final record that opening the log for writing would truncate. Not an error: it was
    /// never reported durable.
    pub torn_tail: Option<TornTail>,
}

/// Verifies the log in `dir` without changing it, using the default record size limit.
/// `progress(bytes_done, bytes_total)` is called at least once per segment and every MiB.
/// The first damaged record is reported as [`LogError::Corrupt`] with its segment, offset and seq.
pub fn verify(dir: &Path, progress: impl FnMut(u64, u64)) -> Result<VerifyReport, LogError> {
    verify_with_options(dir, &LogOptions::default(), progress)
}

/// [`verify`] with the record size limit of `options` (other options are ignored).
pub fn verify_with_options(
    dir: &Path,
    options: &LogOptions,
    mut progress: impl FnMut(u64, u64),
) -> Result<VerifyReport, LogError> {
    options.validate()?;
    let segments = segment::list_segments(dir)?;
    let mut bytes_total = 0u64;
    for segment_file in &segments {
        let metadata = std::fs::metadata(&segment_file.path)
            .map_err(|e| LogError::io("stat segment", &segment_file.path, e))?;
        bytes_total += metadata.len();
    }
    let mut report = VerifyReport {
        segment_count: u32::try_from(segments.len()).unwrap_or(u32::MAX),
        records: 0,
        bytes: 0,
        last_seq: 0,
        head_hash: ChainHash::GENESIS,
        torn_tail: None,
    };
    let mut position = ChainPosition {
        next_seq: 1,
        head_hash: ChainHash::GENESIS,
    };
    progress(0, bytes_total);
    for (index, segment_file) in segments.iter().enumerate() {
        if index == 0 && segment_file.first_seq != 1 {
            return Err(Corruption {
                segment: segment_file.path.clone(),
                offset: 0,
                seq: Some(segment_file.first_seq),
                problem: Problem::SegmentSeqMismatch {
                    expected: 1,
                    found: segment_file.first_seq,
                },
            }
            .into());
        }
        let done_before = report.bytes;
        let is_last = index + 1 == segments.len();
        let scan = segment::scan_segment(
            segment_file,
            Entering::Expect(position),
            is_last,
            options.record_bytes_max,
            &mut |done| progress(done_before + done, bytes_total),
        )?;
        if scan.torn_bytes() > 0 {
            report.torn_tail = Some(TornTail {
                segment: segment_file.path.clone(),
                offset: scan.valid_bytes,
                bytes: scan.torn_bytes(),
            });
        }
        position = scan.end;
        report.records += scan.records;
        report.bytes += scan.file_bytes;
    }
    report.last_seq = position.next_seq - 1;
    report.head_hash = position.head_hash;
    Ok(report)
}
