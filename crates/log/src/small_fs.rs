//! A small real file system for tests of a full disk: a tmpfs of a given size mounted over a
//! temporary directory, grown on demand (what an operator freeing space does) and unmounted on
//! drop. Behind the `testing` feature; mounting needs root (CI runs as root), and where it is not
//! permitted [`SmallFs::mount`] says why so the test can fall back or stop with that reason.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A tmpfs mounted over a temporary directory, unmounted (lazily) on drop.
#[derive(Debug)]
pub struct SmallFs {
    mount_point: PathBuf,
    _root: tempfile::TempDir,
}

impl SmallFs {
    /// Mounts a tmpfs of `size` (as `mount -o size=` takes it, e.g. `"3m"`), or says why it
    /// cannot.
    ///
    /// # Errors
    /// The reason, in words: no temporary directory, `mount` missing, or the mount refused.
    pub fn mount(size: &str) -> Result<Self, String> {
        let root = tempfile::tempdir().map_err(|e| e.to_string())?;
        let mount_point = root.path().join("fs");
        std::fs::create_dir(&mount_point).map_err(|e| e.to_string())?;
        let output = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&mount_point)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "mount -t tmpfs failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        Ok(Self {
            mount_point,
            _root: root,
        })
    }

    /// Where the file system is mounted.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.mount_point
    }

    /// Gives the file system `size` in all, in one step.
    ///
    /// # Errors
    /// The reason, in words, when the remount fails.
    pub fn grow(&self, size: &str) -> Result<(), String> {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.mount_point)
            .status()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("remount to {size} failed ({status})"))
        }
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        // Lazy, so that a test failing with a file still open does not leave the mount behind.
        let _ = Command::new("umount")
            .arg("-l")
            .arg(&self.mount_point)
            .status();
    }
}
