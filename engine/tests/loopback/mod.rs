//! What the tests' loopback HTTP servers share: reading a request's head.

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// Reads a request up to the end of its head (at most 16 KiB); `None` when the client goes
/// away first.
pub async fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 16 * 1024 {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    Some(String::from_utf8_lossy(&request).into_owned())
}
