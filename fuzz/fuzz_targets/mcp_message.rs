//! MCP messages come from the agent and from untrusted servers: parsing a
//! line, scanning any tool definitions in it and digesting them must accept
//! or reject any bytes without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((value, _)) = warden_mcp::rpc::parse(data) {
        let tools = value
            .pointer("/result/tools")
            .and_then(|t| t.as_array())
            .cloned()
            .unwrap_or_else(|| vec![value.clone()]);
        for t in &tools {
            let _ = warden_mcp::scan::scan_tool(t);
            let _ = warden_mcp::digest::tool_digest(t);
        }
    }
    let text = String::from_utf8_lossy(data);
    let _ = warden_mcp::scan::scan_tool(&serde_json::json!({"name": "t", "description": text}));
});
