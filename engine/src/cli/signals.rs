//! Ctrl-C and SIGTERM: the first stops the running steps at once and rolls back (or pauses, as
//! the plan says); the second stops even the rollback. The run announces each one in its
//! progress output (`Event::Interrupted`).

use tokio::signal::unix::{SignalKind, signal};

use crate::executor::Interrupts;

/// Cancels `interrupts.first` on the first SIGINT or SIGTERM, `interrupts.second` on the next.
pub fn watch(interrupts: Interrupts) {
    tokio::spawn(async move {
        let (Ok(mut int), Ok(mut term)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) else {
            return;
        };
        for token in [interrupts.first, interrupts.second] {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            token.cancel();
        }
    });
}
