//! Parsers of untrusted input never panic, and framing never loses or merges
//! lines whatever the read boundaries.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use warden_mcp::framing::{Frame, read_frame};
use warden_mcp::{digest, rpc, scan};

proptest! {
    #[test]
    fn any_bytes_parse_or_get_a_json_rpc_error(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        match rpc::parse(&bytes) {
            Ok(_) => {}
            Err(e) => prop_assert!([-32700, -32600, -32602].contains(&e.code)),
        }
    }

    #[test]
    fn any_text_scans(text in "\\PC{0,400}", name in "\\PC{0,20}") {
        let tool = serde_json::json!({"name": name, "description": text,
            "inputSchema": {"type": "object", "properties": {text.clone(): {"description": text}}}});
        let r = scan::scan_tool(&tool);
        prop_assert_eq!(r.flagged, !r.findings().is_empty());
        let _ = digest::tool_digest(&tool);
    }

    #[test]
    fn framing_splits_exactly_on_newlines(
        lines in proptest::collection::vec("[a-z{}\":,]{0,40}", 0..12),
        cap in 1usize..64,
        chunk in 1usize..17,
    ) {
        let input = lines.iter().map(|l| format!("{l}\n")).collect::<String>();
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let got = rt.block_on(async {
            let mut r = tokio::io::BufReader::with_capacity(chunk, input.as_bytes());
            let mut out = Vec::new();
            loop {
                match read_frame(&mut r, cap).await.unwrap() {
                    Frame::Eof => return out,
                    f => out.push(f),
                }
            }
        });
        let want: Vec<Frame> = lines
            .iter()
            .map(|l| if l.len() <= cap { Frame::Line(l.as_bytes().to_vec()) } else { Frame::TooLong(l.len()) })
            .collect();
        prop_assert_eq!(got, want);
    }
}
