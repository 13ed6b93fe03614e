//! What a run shows and listens to while it works: the progress bar and Ctrl-C.

use std::io::IsTerminal;

use tokio_util::sync::CancellationToken;

/// A progress bar on a terminal, nothing otherwise.
pub(crate) fn progress_bar(
    show: bool,
    total: usize,
    message: String,
) -> Option<indicatif::ProgressBar> {
    (show && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(total as u64);
        bar.set_message(message);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{msg} [{elapsed_precise}] {wide_bar} {pos}/{len} ({per_sec}, eta {eta})",
        ) {
            bar.set_style(style);
        }
        bar
    })
}

/// Calls `Ctrl-C` a cancellation while the guard lives, when asked to.
pub(crate) struct CtrlC(Option<tokio::task::JoinHandle<()>>);

impl CtrlC {
    pub(crate) fn watch(enabled: bool, cancel: &CancellationToken) -> Self {
        CtrlC(enabled.then(|| {
            let cancel = cancel.clone();
            tokio::spawn(async move {
                if tokio::signal::ctrl_c().await.is_ok() {
                    cancel.cancel();
                }
            })
        }))
    }
}

impl Drop for CtrlC {
    fn drop(&mut self) {
        if let Some(handle) = self.0.take() {
            handle.abort();
        }
    }
}
