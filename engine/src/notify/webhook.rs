//! `webhook`: planrun's own JSON (schema version 1, documented in docs/language.md) for any
//! HTTP endpoint, signed with HMAC-SHA256 when the plan names a key:
//!
//! - `X-Planrun-Timestamp`: the Unix time (seconds) the request was made;
//! - `X-Planrun-Signature`: `sha256=` and the hex HMAC-SHA256, keyed with the secret, of the
//!   timestamp, a `.` and the body's exact bytes. A receiver recomputes it, compares in
//!   constant time and refuses a timestamp more than a few minutes old (a replay).

use serde_json::json;
use sha2::{Digest, Sha256};

use super::{Message, Post, TargetBehavior};

/// The header holding the time signed.
pub const TIMESTAMP_HEADER: &str = "X-Planrun-Timestamp";
/// The header holding the signature.
pub const SIGNATURE_HEADER: &str = "X-Planrun-Signature";

/// The generic webhook's behaviour.
pub struct Webhook;

impl TargetBehavior for Webhook {
    fn post(&self, message: &Message, key: Option<&[u8]>, unix: u64) -> Post {
        let body = json!({
            "version": 1,
            "event": message.event.word(),
            "stack": message.stack,
            "plan": message.plan,
            "run_id": message.run_id,
            "at": message.at,
            "step": message.step,
            "title": message.title,
            "reason": message.reason,
            "command": message.command,
            "failure_report": message.report,
            "text": super::plain(message),
        })
        .to_string()
        .into_bytes();
        let mut headers = vec![(TIMESTAMP_HEADER.to_owned(), unix.to_string())];
        if let Some(key) = key {
            headers.push((SIGNATURE_HEADER.to_owned(), signature(key, unix, &body)));
        }
        Post { headers, body }
    }
}

/// `sha256=HEX`: the HMAC-SHA256 of `TIMESTAMP.BODY` keyed with `key`.
pub fn signature(key: &[u8], unix: u64, body: &[u8]) -> String {
    let mut signed = unix.to_string().into_bytes();
    signed.push(b'.');
    signed.extend_from_slice(body);
    let mac = hmac_sha256(key, &signed);
    format!("sha256={}", mac.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// HMAC (RFC 2104) over SHA-256, with the sha2 crate the engine already has.
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new().chain_update(pad(0x36)).chain_update(data).finalize();
    Sha256::new().chain_update(pad(0x5c)).chain_update(inner).finalize().into()
}
