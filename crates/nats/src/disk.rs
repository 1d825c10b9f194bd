//! Free space on the file system holding the data directory, for the metrics and `/readyz`:
//! a full disk stops the engine (its log cannot be written), so it must be seen coming.

use std::path::Path;

/// What is left on a file system, as an unprivileged process may use it (the engine runs as
/// one: blocks kept for root are not counted).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct FreeSpace {
    /// Bytes free for an unprivileged writer.
    pub bytes: u64,
    /// File nodes (inodes) free for an unprivileged writer; 0 on file systems that do not count
    /// them.
    pub inodes: u64,
}

/// The free space of the file system holding `dir` (one `statvfs` call: sample it every few
/// seconds, not per turn).
///
/// # Errors
/// `dir` cannot be read (it does not exist, permissions).
pub fn free_space(dir: &Path) -> std::io::Result<FreeSpace> {
    let stat = rustix::fs::statvfs(dir)?;
    Ok(FreeSpace {
        bytes: stat.f_bavail.saturating_mul(stat.f_frsize),
        inodes: stat.f_favail,
    })
}

#[cfg(test)]
mod tests {
    use super::free_space;

    #[test]
    fn a_directory_has_free_space_and_a_missing_one_is_an_error() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let free = free_space(dir.path()).expect("statvfs");
        assert!(free.bytes > 0, "{free:?}");
        assert!(free_space(&dir.path().join("missing")).is_err());
    }
}
