//! `warden mcp -- <server command…>`: the gateway on stdio. The agent starts
//! the gateway as if it were the server; the gateway starts the real server
//! and relays newline-delimited JSON-RPC both ways through [`Gateway`].
//!
//! Bad input never ends the relay: a line that is not JSON, not a message, a
//! batch or too large is answered with the JSON-RPC error it deserves. A
//! server that dies leaves every request in flight, and every later one,
//! answered with an internal error naming what happened.

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::process::Command;
use tokio::sync::mpsc;

use crate::framing::{Frame, read_frame};
use crate::gateway::{Decider, Gateway, Notifier, Route, Settings};
use crate::rpc::{self, Message, code};

/// Why the relay could not run.
#[derive(Debug, thiserror::Error)]
pub enum StdioError {
    /// No server command was given.
    #[error("no MCP server command given (warden mcp -- <command> [args…])")]
    NoCommand,
    /// The server could not be started.
    #[error("cannot start the MCP server {command:?}: {source}")]
    Spawn {
        /// The program.
        command: String,
        /// Why.
        source: std::io::Error,
    },
    /// Reading the client failed.
    #[error("reading from the agent failed: {0}")]
    Client(std::io::Error),
}

/// What the relay needs.
#[derive(Debug, Clone)]
pub struct StdioOptions {
    /// The server's argv.
    pub command: Vec<String>,
    /// Cap on one message, both ways.
    pub max_message: usize,
    /// The gateway's settings.
    pub settings: Settings,
}

type Pending = Arc<Mutex<HashMap<String, Value>>>;

/// Tool calls waiting for a decision at once, at most.
pub const MAX_CALLS_IN_FLIGHT: usize = 64;

/// A line to write, or the end of the stream.
enum Out {
    Line(Value),
    End,
}

fn take_all(p: &Pending) -> Vec<Value> {
    let mut m = p.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    m.drain().map(|(_, id)| id).collect()
}

struct Relay {
    gateway: Arc<Gateway>,
    to_client: mpsc::UnboundedSender<Out>,
    /// Taken when the agent closes its side, which closes the server's stdin.
    to_server: Mutex<Option<mpsc::UnboundedSender<Out>>>,
    pending: Pending,
    /// Set once the server has gone, with what happened.
    gone: Arc<Mutex<Option<String>>>,
}

impl Relay {
    fn reply(&self, v: Value) {
        let _ = self.to_client.send(Out::Line(v));
    }

    fn forward(&self, id: Option<&Value>, v: Value) {
        let gone = self
            .gone
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        if let Some(why) = gone {
            if let Some(id) = id {
                self.reply(rpc::error(id, code::INTERNAL_ERROR, &why));
            }
            return;
        }
        if let Some(id) = id {
            self.pending
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(rpc::id_key(id), id.clone());
        }
        if let Some(tx) = self
            .to_server
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
        {
            let _ = tx.send(Out::Line(v));
        }
    }

    async fn handle(&self, msg: Value, kind: Message) {
        let id = match &kind {
            Message::Request { id, .. } => Some(id.clone()),
            _ => None,
        };
        match self.gateway.from_client(msg, &kind).await {
            Route::Forward(v) => self.forward(id.as_ref(), v),
            Route::Reply(v) => self.reply(v),
            Route::Drop => {}
        }
    }
}

async fn write_lines<W: AsyncWrite + Unpin>(mut w: W, mut rx: mpsc::UnboundedReceiver<Out>) {
    while let Some(Out::Line(v)) = rx.recv().await {
        let mut line = v.to_string().into_bytes();
        line.push(b'\n');
        if w.write_all(&line).await.is_err() || w.flush().await.is_err() {
            return;
        }
    }
}

/// Relays between the agent (`client_in`/`client_out`) and the server until
/// the agent closes its side; returns the server's exit code.
pub async fn run<I, O>(
    client_in: I,
    client_out: O,
    opts: StdioOptions,
    decider: Arc<dyn Decider>,
) -> Result<Option<i32>, StdioError>
where
    I: AsyncRead + Unpin + Send + 'static,
    O: AsyncWrite + Unpin + Send + 'static,
{
    let (program, args) = opts.command.split_first().ok_or(StdioError::NoCommand)?;
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| StdioError::Spawn {
            command: program.clone(),
            source,
        })?;
    let (Some(server_in), Some(server_out)) = (child.stdin.take(), child.stdout.take()) else {
        return Err(StdioError::Spawn {
            command: program.clone(),
            source: std::io::Error::other("no pipes to the server"),
        });
    };
    let (to_client, client_rx) = mpsc::unbounded_channel();
    let (to_server, server_rx) = mpsc::unbounded_channel();
    let client_writer = tokio::spawn(write_lines(client_out, client_rx));
    let server_writer = tokio::spawn(write_lines(server_in, server_rx));
    let notify_tx = to_client.clone();
    let notifier: Notifier = Arc::new(move |v| {
        let _ = notify_tx.send(Out::Line(v));
    });
    let relay = Arc::new(Relay {
        gateway: Gateway::new(opts.settings.clone(), decider, Some(notifier)),
        to_client,
        to_server: Mutex::new(Some(to_server)),
        pending: Pending::default(),
        gone: Arc::default(),
    });
    let kill = Arc::new(tokio::sync::Notify::new());
    let supervisor = {
        let kill = Arc::clone(&kill);
        tokio::spawn(async move {
            tokio::select! {
                s = child.wait() => s.ok().and_then(|s| s.code()),
                _ = kill.notified() => {
                    let _ = child.kill().await;
                    None
                }
            }
        })
    };
    let server_name = opts.settings.server.clone();
    let from_server = tokio::spawn(pump_server(
        Arc::clone(&relay),
        BufReader::new(server_out),
        opts.max_message,
        server_name,
        Arc::clone(&kill),
    ));

    let calls = Arc::new(tokio::sync::Semaphore::new(MAX_CALLS_IN_FLIGHT));
    let mut reader = BufReader::new(client_in);
    loop {
        match read_frame(&mut reader, opts.max_message)
            .await
            .map_err(StdioError::Client)?
        {
            Frame::Eof => break,
            Frame::TooLong(n) => relay.reply(rpc::error(
                &Value::Null,
                code::INVALID_REQUEST,
                &format!(
                    "Invalid Request: a message of {n} bytes exceeds the gateway's limit of {} bytes",
                    opts.max_message
                ),
            )),
            Frame::Line(line) if line.iter().all(u8::is_ascii_whitespace) => {}
            Frame::Line(line) => match rpc::parse(&line) {
                Err(inv) => relay.reply(rpc::error(&inv.id, inv.code, &inv.message)),
                Ok((msg, kind)) => {
                    let slow = matches!(&kind, Message::Request { method, .. } if method == "tools/call");
                    if slow {
                        // A call may wait for a person; everything else keeps
                        // flowing. A client flooding calls gets errors, not
                        // unbounded waiting tasks.
                        let Ok(permit) = Arc::clone(&calls).try_acquire_owned() else {
                            if let Message::Request { id, .. } = &kind {
                                relay.reply(rpc::error(
                                    id,
                                    code::INTERNAL_ERROR,
                                    &format!("too many tool calls in flight (at most {MAX_CALLS_IN_FLIGHT})"),
                                ));
                            }
                            continue;
                        };
                        let r = Arc::clone(&relay);
                        tokio::spawn(async move {
                            r.handle(msg, kind).await;
                            drop(permit);
                        });
                    } else {
                        relay.handle(msg, kind).await;
                    }
                }
            },
        }
    }
    // The agent is done: close the server's stdin, give it a moment to exit,
    // relay what it still says, then end our stdout.
    relay
        .to_server
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take();
    let _ = server_writer.await;
    let mut supervisor = supervisor;
    let code = match tokio::time::timeout(std::time::Duration::from_secs(2), &mut supervisor).await
    {
        Ok(done) => done.ok().flatten(),
        Err(_) => {
            kill.notify_one();
            let _ = supervisor.await;
            None
        }
    };
    let mut from_server = from_server;
    if tokio::time::timeout(std::time::Duration::from_secs(1), &mut from_server)
        .await
        .is_err()
    {
        from_server.abort();
    }
    let _ = relay.to_client.send(Out::End);
    let _ = client_writer.await;
    Ok(code)
}

async fn pump_server<R: AsyncRead + Unpin>(
    relay: Arc<Relay>,
    mut reader: BufReader<R>,
    max: usize,
    server: String,
    kill: Arc<tokio::sync::Notify>,
) {
    let why = loop {
        match read_frame(&mut reader, max).await {
            Ok(Frame::Line(line)) => match rpc::parse(&line) {
                Ok((msg, kind)) => {
                    let answers_a_request = match &kind {
                        Message::Response { id } => relay
                            .pending
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .remove(&rpc::id_key(id))
                            .is_some(),
                        _ => false,
                    };
                    if answers_a_request && Gateway::lists_tools(&msg) {
                        // Its definitions may wait for a person (up to the
                        // list wait): the server's later messages go ahead.
                        // One task per request the client made; lists nobody
                        // asked for are filtered in line, one at a time.
                        let relay = Arc::clone(&relay);
                        tokio::spawn(async move {
                            let out = relay.gateway.from_server(msg).await;
                            relay.reply(out);
                        });
                    } else {
                        relay.reply(relay.gateway.from_server(msg).await);
                    }
                }
                Err(e) => {
                    tracing::warn!(%server, "the MCP server wrote a line that is not a message ({e}); skipped")
                }
            },
            Ok(Frame::TooLong(n)) => {
                kill.notify_one();
                break format!(
                    "the MCP server {server:?} sent a message of {n} bytes, over the limit of {max}; it was stopped"
                );
            }
            Ok(Frame::Eof) => break format!("the MCP server {server:?} exited"),
            Err(e) => break format!("reading from the MCP server {server:?} failed: {e}"),
        }
    };
    tracing::warn!("{why}");
    *relay
        .gone
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(why.clone());
    for id in take_all(&relay.pending) {
        relay.reply(rpc::error(
            &id,
            code::INTERNAL_ERROR,
            &format!("{why} before answering"),
        ));
    }
}
