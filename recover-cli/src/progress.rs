//! Progress with an ETA on a terminal; nothing in pipes or logs.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A byte-count progress bar that is silent unless stderr is a terminal.
pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// A bar for `total` bytes labelled `what`.
    pub fn bytes(total: u64, what: &str) -> Self {
        if !std::io::stderr().is_terminal() {
            return Progress { bar: None };
        }
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{msg} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_message(what.to_string());
        bar.enable_steady_tick(Duration::from_millis(250));
        Progress { bar: Some(bar) }
    }

    /// Sets the position.
    pub fn set(&self, pos: u64) {
        if let Some(b) = &self.bar {
            b.set_position(pos);
        }
    }

    /// Moves the position on by `n` (from any thread).
    pub fn add(&self, n: u64) {
        if let Some(b) = &self.bar {
            b.inc(n);
        }
    }

    /// Sets the position and the total (for work whose total changes as
    /// it goes: a second array found on the same members).
    pub fn set_of(&self, pos: u64, total: u64) {
        if let Some(b) = &self.bar {
            b.set_length(total);
            b.set_position(pos);
        }
    }

    /// Clears the bar.
    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

/// One bar per volume for work that moves from volume to volume (the deep
/// search): a new bar when the volume changes, the last cleared at the end.
pub struct PerVolume {
    label: &'static str,
    cur: Option<(String, Progress)>,
}

impl PerVolume {
    /// Bars labelled `label` and the volume's path.
    pub fn new(label: &'static str) -> Self {
        PerVolume { label, cur: None }
    }

    /// `done` of `total` bytes of the volume at `path`.
    pub fn update(&mut self, path: &str, done: u64, total: u64) {
        if self.cur.as_ref().is_none_or(|(p, _)| p != path) {
            self.finish();
            self.cur = Some((
                path.to_string(),
                Progress::bytes(total, &format!("{} {path}", self.label)),
            ));
        }
        if let Some((_, bar)) = &self.cur {
            bar.set(done);
        }
    }

    /// Clears the last bar.
    pub fn finish(&mut self) {
        if let Some((_, bar)) = self.cur.take() {
            bar.finish();
        }
    }
}
