//! Approval at the terminal: `step `x` waits for approval: go on? [y/N]`, answered on stdin.
//! It runs beside the swarm route (`planrun promote`/`abort`); whichever answers first wins.

use async_trait::async_trait;

use crate::approval::{Answer, Approver, AskError, Question};
use crate::lock::Holder;

/// Asks on this terminal (only offered when stdin is one).
///
/// The question is answered by a line read from stdin in the terminal's own (cooked) mode, not
/// by `dialoguer::Confirm` (checked on dialoguer 0.12.0 with console 0.16.6): `Confirm`'s
/// `interact_on` reads every key with `console::Term::read_key`, with or without
/// `wait_for_newline(true)` (which only waits for Enter before deciding), and on Unix that is
/// `console::unix_term::read_single_key`, which switches the terminal to raw mode (`cfmakeraw`
/// through `tcsetattr`: no echo, no line editing, no signals from the keyboard) and switches it
/// back only once a key arrives; `Confirm` also hides the cursor until it has its answer. This
/// prompt races the swarm route: when `planrun promote`/`abort` answers first, the thread
/// blocked in `spawn_blocking` cannot be cancelled and is left waiting. With `Confirm` the
/// terminal would then stay raw, its cursor hidden, while indicatif keeps drawing, and after
/// planrun exits (measured under a pty with a program that leaves a `Confirm` waiting and
/// exits: `-isig -icanon -echo` still set after it ended). A cooked-mode `read_line` changes
/// nothing on the terminal, so an abandoned one leaves nothing to restore.
pub struct TerminalPrompt;

#[async_trait]
impl Approver for TerminalPrompt {
    async fn ask(&self, question: &Question) -> Result<Answer, AskError> {
        let text = question.text.clone();
        let line = tokio::task::spawn_blocking(move || {
            eprint!("{text} [y/N] ");
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).map(|_| line)
        })
        .await
        .map_err(|e| AskError::Stopped { message: e.to_string() })?
        .map_err(|e| AskError::Terminal(e.into()))?;
        let by = format!("{} at the terminal", Holder::this_process(&question.run_id).holder);
        Ok(Answer { approved: matches!(line.trim(), "y" | "Y" | "yes"), by })
    }

    fn how(&self, _question: &Question) -> Option<String> {
        Some("answer y or n here".into())
    }
}
