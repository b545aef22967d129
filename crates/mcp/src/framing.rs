//! Newline-delimited JSON-RPC framing for stdio, with a size cap: a line longer
//! than the cap is discarded up to its newline (never buffered whole) and
//! reported, so one oversized message cannot exhaust memory or desynchronise
//! the stream.

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// The default cap on one message (8 MiB: large base64 images fit).
pub const DEFAULT_MAX_MESSAGE: usize = 8 << 20;

/// One frame read from a stream.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// A complete line, without its `\n` (or `\r\n`).
    Line(Vec<u8>),
    /// A line longer than the cap, discarded; its length so far.
    TooLong(usize),
    /// The stream ended (a final line without newline is returned first).
    Eof,
}

/// Reads the next frame of at most `max` bytes.
pub async fn read_frame<R: AsyncBufRead + Unpin>(r: &mut R, max: usize) -> std::io::Result<Frame> {
    let mut line = Vec::new();
    let mut dropped = 0usize;
    loop {
        let buf = r.fill_buf().await?;
        if buf.is_empty() {
            if dropped > 0 {
                return Ok(Frame::TooLong(dropped));
            }
            if line.is_empty() {
                return Ok(Frame::Eof);
            }
            break;
        }
        let (chunk, done) = match buf.iter().position(|b| *b == b'\n') {
            Some(i) => (&buf[..i], Some(i + 1)),
            None => (buf, None),
        };
        if dropped == 0 && line.len() + chunk.len() <= max {
            line.extend_from_slice(chunk);
        } else {
            dropped += line.len() + chunk.len();
            line.clear();
        }
        let used = done.unwrap_or(chunk.len());
        r.consume(used);
        if done.is_some() {
            if dropped > 0 {
                return Ok(Frame::TooLong(dropped));
            }
            break;
        }
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(Frame::Line(line))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn frames(input: &[u8], max: usize) -> Vec<Frame> {
        let mut r = tokio::io::BufReader::with_capacity(7, input);
        let mut out = Vec::new();
        loop {
            let f = read_frame(&mut r, max).await.unwrap();
            let end = f == Frame::Eof;
            out.push(f);
            if end {
                return out;
            }
        }
    }

    #[tokio::test]
    async fn lines_crlf_oversize_and_a_last_line_without_newline() {
        let got = frames(b"{\"a\":1}\r\n0123456789abcdef\nok\nlast", 10).await;
        assert_eq!(
            got,
            vec![
                Frame::Line(b"{\"a\":1}".to_vec()),
                Frame::TooLong(16),
                Frame::Line(b"ok".to_vec()),
                Frame::Line(b"last".to_vec()),
                Frame::Eof
            ]
        );
    }
}
