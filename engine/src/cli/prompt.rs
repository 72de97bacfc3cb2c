//! Approval at the terminal: `step `x` waits for approval: go on? [y/N]`, answered on stdin.
//! It runs beside the swarm route (`planrun promote`/`abort`); whichever answers first wins.

use async_trait::async_trait;

use crate::approval::{Answer, Approver, AskError, Question};
use crate::lock::Holder;

/// Asks on this terminal (only offered when stdin is one).
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
