//! Progress bars for long work (replay, verify), drawn on stderr only when it is a terminal.

use indicatif::{ProgressBar, ProgressStyle};

/// A progress bar counting `unit` (e.g. "events", "bytes"), hidden when `quiet`.
pub(crate) fn bar(quiet: bool, unit: &str) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(0);
    let template = if unit == "bytes" {
        "{spinner} {msg} [{bar:40}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta} left)".to_owned()
    } else {
        format!(
            "{{spinner}} {{msg}} [{{bar:40}}] {{human_pos}}/{{human_len}} {unit} ({{per_sec}}, {{eta}} left)"
        )
    };
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}
