//! A plain-HTTP request body passed on to the upstream only after it has been
//! scanned for secrets ([`crate::dlp`]).
//!
//! The body streams: nothing waits for the whole of it. Bytes are gathered
//! into steps of [`STEP`]; each step is scanned together with the last
//! [`HOLD`] bytes before it, and everything but those last [`HOLD`] bytes is
//! passed on. A secret no longer than [`HOLD`] (a private key block is at most
//! ~8 KiB) is therefore whole in some scan before any byte of it leaves. When
//! one is found the body ends with an error: hyper aborts the upstream request
//! (the upstream has seen a truncated body that holds no secret byte), and the
//! findings are handed to `on_found`, which records the refusal.
//!
//! A client that stops sending mid-body gets what it sent passed on, except
//! the held bytes, which wait for more data or the end.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use tokio::task::JoinHandle;

use crate::dlp::{self, Finding};

/// Bytes gathered before a scan.
pub(crate) const STEP: usize = 64 * 1024;

/// Bytes kept back after each scan, to be scanned again with what follows.
pub(crate) const HOLD: usize = 16 * 1024;

/// Why the body ended early.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ScanError {
    /// A secret was found; nothing of it was passed on.
    #[error("the request body holds a secret; it was not sent on")]
    Secret,
    /// Reading the client failed.
    #[error("reading the request body from the client failed: {0}")]
    Client(Box<dyn std::error::Error + Send + Sync>),
}

/// Called once, with the findings of the scan that stopped the body; starts
/// recording them.
pub(crate) type OnFound = Box<dyn FnOnce(Vec<Finding>) -> JoinHandle<()> + Send + Sync>;

/// The findings that stopped a body, for the proxy's answer to the client,
/// and whether the body is over (sent whole, stopped, or dropped).
pub(crate) struct Found {
    /// The findings, and the task recording them.
    stopped: Mutex<Option<(Vec<Finding>, JoinHandle<()>)>>,
    over: tokio::sync::watch::Sender<bool>,
}

impl Default for Found {
    fn default() -> Found {
        Found {
            stopped: Mutex::default(),
            over: tokio::sync::watch::Sender::new(false),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Found {
    /// Waits until the body is over, at most `limit`: an upstream may answer
    /// before it has read the body, and the answer must not reach the client
    /// before the scan has seen the whole body (or `limit` has passed).
    pub(crate) async fn body_over(&self, limit: std::time::Duration) {
        let mut over = self.over.subscribe();
        let _ = tokio::time::timeout(limit, over.wait_for(|o| *o)).await;
    }

    fn mark_over(&self) {
        self.over.send_replace(true);
    }

    /// The findings, once they are recorded; `None` if the body held none.
    pub(crate) async fn recorded(&self) -> Option<Vec<Finding>> {
        let (findings, recording) = lock(&self.stopped).take()?;
        let _ = recording.await;
        Some(findings)
    }
}

/// A request body, scanned before it is passed on.
pub(crate) struct Scanned<B = Incoming> {
    inner: Option<B>,
    /// Received, not yet passed on: the held bytes, then what is new.
    buf: BytesMut,
    /// How much of `buf` the last scan saw.
    scanned: usize,
    /// Ready to be passed on, in order.
    out: VecDeque<Frame<Bytes>>,
    /// Trailers, passed on after the last data.
    trailers: Option<Frame<Bytes>>,
    on_found: Option<OnFound>,
    found: Arc<Found>,
    failed: bool,
}

impl<B> Scanned<B> {
    /// `inner`, scanned; `found` is set when a secret stops it.
    pub(crate) fn new(inner: B, found: Arc<Found>, on_found: OnFound) -> Scanned<B>
    where
        B: Body,
    {
        if inner.is_end_stream() {
            found.mark_over();
        }
        Scanned {
            inner: Some(inner),
            buf: BytesMut::new(),
            scanned: 0,
            out: VecDeque::new(),
            trailers: None,
            on_found: Some(on_found),
            found,
            failed: false,
        }
    }

    /// Scans what is unscanned, then moves all but the last `keep` bytes to
    /// `out`. `Err` when a secret is found.
    fn scan_and_release(&mut self, keep: usize) -> Result<(), ScanError> {
        if self.scanned < self.buf.len() {
            let findings = dlp::scan(&String::from_utf8_lossy(&self.buf));
            if !findings.is_empty() {
                self.buf.clear();
                self.out.clear();
                self.trailers = None;
                self.inner = None;
                self.failed = true;
                if let Some(record) = self.on_found.take() {
                    *lock(&self.found.stopped) = Some((findings.clone(), record(findings)));
                }
                self.found.mark_over();
                return Err(ScanError::Secret);
            }
            self.scanned = self.buf.len();
        }
        let release = self.buf.len().saturating_sub(keep);
        if release > 0 {
            let chunk = self.buf.split_to(release).freeze();
            self.scanned -= release;
            self.out.push_back(Frame::data(chunk));
        }
        Ok(())
    }
}

impl<B> Drop for Scanned<B> {
    fn drop(&mut self) {
        self.found.mark_over();
    }
}

impl<B> Body for Scanned<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Data = Bytes;
    type Error = ScanError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, ScanError>>> {
        let this = self.get_mut();
        loop {
            if this.failed {
                this.found.mark_over();
                return Poll::Ready(None);
            }
            if let Some(f) = this.out.pop_front() {
                return Poll::Ready(Some(Ok(f)));
            }
            let Some(inner) = this.inner.as_mut() else {
                if this.trailers.is_none() {
                    this.found.mark_over();
                }
                return Poll::Ready(this.trailers.take().map(Ok));
            };
            match Pin::new(inner).poll_frame(cx) {
                Poll::Pending => {
                    // The client paused: pass on what is scanned, keep the rest.
                    if let Err(e) = this.scan_and_release(HOLD) {
                        return Poll::Ready(Some(Err(e)));
                    }
                    if this.out.is_empty() {
                        return Poll::Pending;
                    }
                }
                Poll::Ready(Some(Err(e))) => {
                    this.inner = None;
                    this.failed = true;
                    this.found.mark_over();
                    return Poll::Ready(Some(Err(ScanError::Client(e.into()))));
                }
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(mut data) => {
                        while data.has_remaining() {
                            let n = data.chunk().len();
                            this.buf.extend_from_slice(data.chunk());
                            data.advance(n);
                        }
                        if this.buf.len() >= HOLD + STEP
                            && let Err(e) = this.scan_and_release(HOLD)
                        {
                            return Poll::Ready(Some(Err(e)));
                        }
                    }
                    Err(frame) => {
                        // Trailers end the body.
                        this.trailers = frame.is_trailers().then_some(frame);
                        this.inner = None;
                        if let Err(e) = this.scan_and_release(0) {
                            return Poll::Ready(Some(Err(e)));
                        }
                    }
                },
                Poll::Ready(None) => {
                    this.inner = None;
                    if let Err(e) = this.scan_and_release(0) {
                        return Poll::Ready(Some(Err(e)));
                    }
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.failed
            || (self.inner.as_ref().is_none_or(Body::is_end_stream)
                && self.buf.is_empty()
                && self.out.is_empty()
                && self.trailers.is_none())
    }

    fn size_hint(&self) -> SizeHint {
        // Every byte is passed on unchanged (or the body fails): the client's
        // length still holds, less what was passed on already.
        let queued: usize = self.buf.len()
            + self
                .out
                .iter()
                .filter_map(|f| f.data_ref().map(Bytes::len))
                .sum::<usize>();
        let inner = self
            .inner
            .as_ref()
            .map(Body::size_hint)
            .unwrap_or_else(|| SizeHint::with_exact(0));
        let mut h = SizeHint::new();
        h.set_lower(inner.lower() + queued as u64);
        if let Some(u) = inner.upper() {
            h.set_upper(u + queued as u64);
        }
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use proptest::prelude::*;

    /// A client body sent as these chunks, then these trailers.
    struct Chunks(VecDeque<Frame<Bytes>>);

    impl Body for Chunks {
        type Data = Bytes;
        type Error = std::convert::Infallible;
        fn poll_frame(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            Poll::Ready(self.get_mut().0.pop_front().map(Ok))
        }
    }

    fn chunks(body: &[u8], cuts: &[usize]) -> Chunks {
        let mut frames = VecDeque::new();
        let mut at = 0;
        for &c in cuts.iter().chain([&body.len()]) {
            let c = c.clamp(at, body.len());
            frames.push_back(Frame::data(Bytes::copy_from_slice(&body[at..c])));
            at = c;
        }
        Chunks(frames)
    }

    /// What the upstream receives, whether the body was stopped, and the
    /// findings recorded.
    async fn pass(body: Chunks) -> (Vec<u8>, bool, Option<Vec<Finding>>) {
        let found = Arc::new(Found::default());
        let recorded = Arc::new(Mutex::new(None));
        let r = Arc::clone(&recorded);
        let mut s = Scanned::new(
            body,
            Arc::clone(&found),
            Box::new(move |f| {
                *lock(&r) = Some(f);
                tokio::spawn(async {})
            }),
        );
        let mut sent = Vec::new();
        let mut stopped = false;
        while let Some(frame) = s.frame().await {
            match frame {
                Ok(f) => sent.extend_from_slice(f.data_ref().map(|d| &d[..]).unwrap_or(b"")),
                Err(ScanError::Secret) => stopped = true,
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(found.recorded().await, lock(&recorded).clone());
        let findings = lock(&recorded).clone();
        (sent, stopped, findings)
    }

    const KEY: &str = "AKIAIOSFODNN7EXAMPLE";

    fn run<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn a_body_without_secrets_arrives_whole_and_unchanged() {
        let body: Vec<u8> = (0..300_000u32)
            .map(|i| b"abcdefgh \n"[i as usize % 10])
            .collect();
        let (sent, stopped, found) = run(pass(chunks(&body, &[1, 4096, 70_000, 70_001, 200_000])));
        assert!(!stopped);
        assert!(found.is_none());
        assert_eq!(sent, body);
    }

    #[test]
    fn a_secret_deep_in_a_large_body_stops_it_before_any_of_it_is_sent() {
        let mut body = vec![b'x'; 250_000];
        body.extend_from_slice(format!(" aws {KEY} ").as_bytes());
        body.extend(vec![b'y'; 100_000]);
        let (sent, stopped, found) = run(pass(chunks(&body, &[100_000, 250_010])));
        assert!(stopped);
        let found = found.expect("recorded");
        assert_eq!(found[0].kind, "aws-access-key-id");
        assert!(!String::from_utf8_lossy(&sent).contains("AKIA"));
        // What was sent is a prefix of the body, before the secret.
        assert!(sent.len() <= 250_005, "{}", sent.len());
        assert_eq!(&body[..sent.len()], &sent[..]);
    }

    #[test]
    fn trailers_follow_the_data() {
        let mut c = chunks(b"hello", &[2]);
        let mut t = hyper::HeaderMap::new();
        t.insert("x-sum", "1".parse().unwrap());
        c.0.push_back(Frame::trailers(t));
        run(async {
            let found = Arc::new(Found::default());
            let s = Scanned::new(c, found, Box::new(|_| tokio::spawn(async {})));
            let all = s.collect().await.unwrap();
            assert_eq!(all.trailers().and_then(|t| t.get("x-sum")).unwrap(), "1");
            assert_eq!(&all.to_bytes()[..], b"hello");
        });
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Wherever the client's chunks are cut, and wherever the secret
        /// sits, no byte of it is passed on, and a clean body passes whole.
        #[test]
        fn no_byte_of_a_secret_is_ever_passed_on(
            before in 0usize..200_000,
            after in 0usize..100_000,
            cuts in proptest::collection::vec(0usize..300_000, 0..12),
            with_secret in any::<bool>(),
        ) {
            let mut body = vec![b'.'; before];
            let at = body.len() + 1;
            if with_secret {
                body.extend_from_slice(format!(" {KEY} ").as_bytes());
            }
            body.extend(vec![b','; after]);
            let mut cuts = cuts;
            cuts.sort_unstable();
            let (sent, stopped, found) = run(pass(chunks(&body, &cuts)));
            prop_assert_eq!(stopped, with_secret);
            prop_assert_eq!(found.is_some(), with_secret);
            if with_secret {
                prop_assert!(sent.len() <= at, "{} > {}", sent.len(), at);
            } else {
                prop_assert_eq!(sent, body);
            }
        }
    }
}
