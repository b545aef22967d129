#!/usr/bin/env python3
"""A scripted MCP server on stdio, for warden's gateway tests.

Speaks both protocol eras: `initialize` (2025-06-18 / 2025-11-25) and the
stateless 2026-07-28 `server/discover` with per-request `_meta`.

Tools come from the JSON file named by $MCP_TOOLS (a list of tool
definitions), re-read on every tools/list, so a test can swap a description
between two lists (a "rug pull"). Calls:
  - any tool: answers {"content":[{"type":"text","text":"called NAME with ARGS"}]}
    and appends the call to $MCP_CALLS (one JSON line) if set;
  - "die": exits at once without answering (a server dying mid-call);
  - "flood": answers with a message of $MCP_FLOOD bytes (default 9 MiB).
"""
import json
import os
import sys

MODERN = "2026-07-28"
LEGACY = ("2025-11-25", "2025-06-18")


def tools():
    path = os.environ.get("MCP_TOOLS")
    if not path:
        return [{"name": "echo", "description": "Echo the text back.",
                 "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}}}]
    with open(path) as f:
        return json.load(f)


def send(msg):
    sys.stdout.write(json.dumps(msg) + "\n")
    sys.stdout.flush()


def modern(params):
    meta = (params or {}).get("_meta") or {}
    return "io.modelcontextprotocol/protocolVersion" in meta


def handle(msg):
    method, mid, params = msg.get("method"), msg.get("id"), msg.get("params") or {}
    if mid is None:
        return  # notifications
    extra = {"resultType": "complete"} if modern(params) else {}
    if method == "initialize":
        v = params.get("protocolVersion")
        send({"jsonrpc": "2.0", "id": mid, "result": {
            "protocolVersion": v if v in LEGACY else LEGACY[0],
            "capabilities": {"tools": {"listChanged": True}},
            "serverInfo": {"name": "scripted", "version": "1.0"}}})
    elif method == "server/discover":
        send({"jsonrpc": "2.0", "id": mid, "result": {
            "supportedVersions": [MODERN], "capabilities": {"tools": {}},
            "serverInfo": {"name": "scripted", "version": "1.0"},
            "resultType": "complete", "ttlMs": 0, "cacheScope": "private"}})
    elif method == "tools/list":
        r = {"tools": tools()}
        if modern(params):
            r.update({"ttlMs": 0, "cacheScope": "private"})
        send({"jsonrpc": "2.0", "id": mid, "result": {**r, **extra}})
    elif method == "tools/call":
        name, args = params.get("name"), params.get("arguments") or {}
        if name == "die":
            os._exit(3)
        if os.environ.get("MCP_CALLS"):
            with open(os.environ["MCP_CALLS"], "a") as f:
                f.write(json.dumps({"name": name, "arguments": args}) + "\n")
        if name == "flood":
            text = "x" * int(os.environ.get("MCP_FLOOD", str(9 << 20)))
        else:
            text = "called %s with %s" % (name, json.dumps(args, sort_keys=True))
        send({"jsonrpc": "2.0", "id": mid, "result": {
            "content": [{"type": "text", "text": text}], "isError": False, **extra}})
    elif method == "ping":
        send({"jsonrpc": "2.0", "id": mid, "result": {}})
    else:
        send({"jsonrpc": "2.0", "id": mid,
              "error": {"code": -32601, "message": "Method not found: %s" % method}})


for line in sys.stdin:
    line = line.strip()
    if not line:
        continue
    try:
        handle(json.loads(line))
    except Exception as e:  # a test server: say what went wrong on stderr
        print("scripted server: %s" % e, file=sys.stderr)
