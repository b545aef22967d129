#!/usr/bin/env python3
"""A scripted LLM provider on 127.0.0.1 for warden's end-to-end tests: the
machine has no route to the real providers, so the agents (Claude Code, Codex)
talk to this server, which speaks their exact wire formats.

  --provider anthropic   POST /v1/messages (JSON or SSE when "stream": true),
                         POST /v1/messages/count_tokens, GET /v1/models
  --provider openai      POST /v1/responses (SSE); a WebSocket upgrade is refused
                         with 426 so the client falls back to HTTP

--script FILE is a JSON list; each main-turn request (one that offers tools)
takes the next step:
  {"tool": "Bash", "input": {"command": "ls"}}        anthropic tool_use
  {"function_call": {"name": "exec_command", "arguments": {"cmd": "ls"}}}
  {"custom_tool_call": {"name": "apply_patch", "input": "*** Begin Patch ..."}}
  {"text": "all done"}                                 a final answer
When the script runs out the answer is text "done.". Every request is
appended to --log as one JSON line (method, path, headers, body), so a test can
read what the agent sent back (e.g. the tool_result carrying warden's reason).
The chosen port is written to --port-file.
"""
import argparse
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()


class State:
    def __init__(self, args):
        self.provider = args.provider
        with open(args.script) as f:
            self.steps = json.load(f)
        self.log_path = args.log
        self.used = 0

    def next_step(self):
        with LOCK:
            if self.used < len(self.steps):
                self.used += 1
                return self.steps[self.used - 1]
        return {"text": "done."}

    def log(self, rec):
        with LOCK, open(self.log_path, "a") as f:
            f.write(json.dumps(rec) + "\n")


def sse(name, data):
    return ("event: %s\ndata: %s\n\n" % (name, json.dumps(data))).encode()


def anthropic_usage(out=5):
    return {"input_tokens": 12, "output_tokens": out,
            "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}


def anthropic_events(msg_id, model, step):
    yield sse("message_start", {"type": "message_start", "message": {
        "id": msg_id, "type": "message", "role": "assistant", "model": model,
        "content": [], "stop_reason": None, "stop_sequence": None, "usage": anthropic_usage(1)}})
    if "tool" in step:
        tool_id = "toolu_e2e_" + uuid.uuid4().hex[:12]
        yield sse("content_block_start", {"type": "content_block_start", "index": 0,
                                          "content_block": {"type": "tool_use", "id": tool_id,
                                                            "name": step["tool"], "input": {}}})
        args = json.dumps(step.get("input", {}))
        for part in (args[: len(args) // 2], args[len(args) // 2:]):
            yield sse("content_block_delta", {"type": "content_block_delta", "index": 0,
                                              "delta": {"type": "input_json_delta", "partial_json": part}})
        stop = "tool_use"
    else:
        yield sse("content_block_start", {"type": "content_block_start", "index": 0,
                                          "content_block": {"type": "text", "text": ""}})
        yield sse("content_block_delta", {"type": "content_block_delta", "index": 0,
                                          "delta": {"type": "text_delta", "text": step.get("text", "done.")}})
        stop = "end_turn"
    yield sse("content_block_stop", {"type": "content_block_stop", "index": 0})
    yield sse("message_delta", {"type": "message_delta",
                                "delta": {"stop_reason": stop, "stop_sequence": None},
                                "usage": {"output_tokens": 7}})
    yield sse("message_stop", {"type": "message_stop"})


def openai_usage():
    return {"input_tokens": 12, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 7,
            "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 19}


def openai_events(n, step):
    def ev(kind, payload):
        payload = dict(payload, type=kind)
        return sse(kind, payload)

    rid = "resp_e2e_%d" % n
    yield ev("response.created", {"response": {"id": rid, "object": "response", "status": "in_progress", "output": []}})
    if "function_call" in step:
        fc = step["function_call"]
        args = fc.get("arguments", {})
        args = args if isinstance(args, str) else json.dumps(args)
        item = {"type": "function_call", "id": "fc_%d" % n, "call_id": "call_e2e_%d" % n,
                "name": fc["name"], "arguments": "", "status": "in_progress"}
        yield ev("response.output_item.added", {"output_index": 0, "item": item})
        yield ev("response.function_call_arguments.delta", {"item_id": item["id"], "output_index": 0, "delta": args})
        yield ev("response.function_call_arguments.done", {"item_id": item["id"], "output_index": 0, "arguments": args})
        done = dict(item, arguments=args, status="completed")
    elif "custom_tool_call" in step:
        ct = step["custom_tool_call"]
        item = {"type": "custom_tool_call", "id": "ctc_%d" % n, "call_id": "call_e2e_%d" % n,
                "name": ct["name"], "input": "", "status": "in_progress"}
        yield ev("response.output_item.added", {"output_index": 0, "item": item})
        yield ev("response.custom_tool_call_input.delta", {"item_id": item["id"], "output_index": 0, "delta": ct["input"]})
        yield ev("response.custom_tool_call_input.done", {"item_id": item["id"], "output_index": 0, "input": ct["input"]})
        done = dict(item, input=ct["input"], status="completed")
    else:
        text = step.get("text", "done.")
        item = {"type": "message", "id": "msg_%d" % n, "role": "assistant", "status": "in_progress", "content": []}
        yield ev("response.output_item.added", {"output_index": 0, "item": item})
        part = {"type": "output_text", "text": "", "annotations": []}
        yield ev("response.content_part.added", {"item_id": item["id"], "output_index": 0, "content_index": 0, "part": part})
        yield ev("response.output_text.delta", {"item_id": item["id"], "output_index": 0, "content_index": 0, "delta": text})
        yield ev("response.output_text.done", {"item_id": item["id"], "output_index": 0, "content_index": 0, "text": text})
        done = dict(item, status="completed", content=[dict(part, text=text)])
    yield ev("response.output_item.done", {"output_index": 0, "item": done})
    yield ev("response.completed", {"response": {"id": rid, "object": "response", "status": "completed",
                                                 "output": [done], "usage": openai_usage()}})


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state = None

    def log_message(self, *args):
        pass

    def reply_json(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def stream(self, chunks):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        for c in chunks:
            self.wfile.write(c)
            self.wfile.flush()

    def record(self, body):
        self.state.log({"method": self.command, "path": self.path,
                        "headers": dict(self.headers.items()), "body": body})

    def do_GET(self):
        self.record(None)
        if (self.headers.get("Upgrade") or "").lower() == "websocket":
            return self.reply_json(426, {"error": {"message": "this server speaks HTTP only"}})
        if self.path.split("?")[0] == "/v1/models":
            return self.reply_json(200, {"data": [{"type": "model", "id": "claude-sonnet-4-5",
                                                   "display_name": "e2e", "created_at": "2025-01-01T00:00:00Z"}],
                                         "has_more": False, "object": "list"})
        self.reply_json(404, {"type": "error", "error": {"type": "not_found_error", "message": self.path}})

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        self.record(body)
        path = self.path.split("?")[0]
        if not isinstance(body, dict):
            return self.reply_json(400, {"error": {"message": "the body is not a JSON object"}})
        if self.state.provider == "anthropic":
            if path == "/v1/messages/count_tokens":
                return self.reply_json(200, {"input_tokens": max(1, n // 4)})
            if path != "/v1/messages":
                return self.reply_json(404, {"type": "error", "error": {"type": "not_found_error", "message": path}})
            step = self.state.next_step() if body.get("tools") else {"text": "e2e title"}
            msg_id = "msg_e2e_" + uuid.uuid4().hex[:12]
            model = body.get("model", "claude-sonnet-4-5")
            if body.get("stream"):
                return self.stream(anthropic_events(msg_id, model, step))
            content = ([{"type": "tool_use", "id": "toolu_e2e_" + uuid.uuid4().hex[:12],
                         "name": step["tool"], "input": step.get("input", {})}]
                       if "tool" in step else [{"type": "text", "text": step.get("text", "done.")}])
            return self.reply_json(200, {"id": msg_id, "type": "message", "role": "assistant", "model": model,
                                         "content": content, "stop_reason": "tool_use" if "tool" in step else "end_turn",
                                         "stop_sequence": None, "usage": anthropic_usage()})
        if path.endswith("/responses"):
            step = self.state.next_step()
            return self.stream(openai_events(self.state.used, step))
        self.reply_json(404, {"error": {"message": "not found: " + path}})


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--provider", choices=["anthropic", "openai"], required=True)
    p.add_argument("--script", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--port-file", required=True)
    args = p.parse_args()
    Handler.state = State(args)
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.rename(args.port_file + ".tmp", args.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
