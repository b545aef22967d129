//! Who commits: the queue of pending appends and the lock around the writer.
//!
//! A blocking `append` does not hand its record to another thread and wait to be
//! woken (a round trip costs tens of microseconds on a virtual machine, more
//! than the commit itself without fsync). It queues the record and, if no
//! commit is running, takes the writer and commits everything queued itself;
//! if one is running, it sleeps until that committer (or the next one) has
//! completed its record. Appenders that arrive during a commit thus form the
//! next group commit. `submit` (the non-blocking form the daemon uses) queues
//! and wakes a background committer thread, so the caller never waits.
//!
//! Announcements: a caller that will append shortly (the daemon, from the
//! moment a decision starts until it is recorded) says so. While appends are
//! announced, a commit waits for them up to `max_linger`, and the last one to
//! arrive wakes it: under concurrent load a batch then holds the decisions in
//! flight instead of whichever one came first, and one fsync and one signed
//! checkpoint serve them all. Nothing announced, nothing waits: a lone
//! decision is committed at once, by the thread that submits it when no commit
//! is running (no hand-off to the committer thread and back).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::writer::{Msg, Pending, Writer};
use crate::error::AuditError;
use crate::log::Receipt;

/// How long a waiting appender sleeps before checking whether it should take
/// over committing (covers a record queued just as a committer finished).
const RECHECK: Duration = Duration::from_micros(500);

struct Queue {
    items: VecDeque<Msg>,
    closed: bool,
}

/// State shared by appenders, the background committer and the log handle.
pub(crate) struct Shared {
    queue: Mutex<Queue>,
    /// Signalled when the queue gains items (for the background committer).
    work: Condvar,
    /// Signalled when the queue loses items (for appenders held back by a full
    /// queue).
    space: Condvar,
    capacity: usize,
    writer: Mutex<Writer>,
    /// Appends announced and not yet queued (changed under the queue lock, so
    /// a committer that checks it before waiting never misses the wake-up).
    announced: AtomicUsize,
    /// Commits made or attempted (for the mean batch size an operator sees in
    /// `/metrics`).
    pub commits: std::sync::atomic::AtomicU64,
}

/// A one-shot slot a blocking appender waits on.
pub(crate) struct Slot {
    value: Mutex<Option<Result<Receipt, AuditError>>>,
    filled: Condvar,
}

impl Slot {
    pub fn new() -> Arc<Slot> {
        Arc::new(Slot {
            value: Mutex::new(None),
            filled: Condvar::new(),
        })
    }

    pub fn fill(&self, r: Result<Receipt, AuditError>) {
        let mut v = lock(&self.value);
        *v = Some(r);
        self.filled.notify_all();
    }

    fn try_take(&self) -> Option<Result<Receipt, AuditError>> {
        lock(&self.value).take()
    }

    fn take_or_wait(&self, timeout: Duration) -> Option<Result<Receipt, AuditError>> {
        let mut v = lock(&self.value);
        if v.is_none() {
            v = self
                .filled
                .wait_timeout(v, timeout)
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
        v.take()
    }
}

fn mark_failed(w: &mut Writer) {
    if w.core.failed.is_none() {
        w.core.failed = Some("the audit writer panicked".into());
    }
}

/// The queue and slot locks guard plain data that every critical section leaves
/// consistent, so a poisoned one is taken over rather than the panic spread to
/// every appender. (The writer's lock is different: see `writer_checked`.)
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    pub fn new(writer: Writer, capacity: usize) -> Arc<Shared> {
        Arc::new(Shared {
            queue: Mutex::new(Queue {
                items: VecDeque::new(),
                closed: false,
            }),
            work: Condvar::new(),
            space: Condvar::new(),
            capacity: capacity.max(1),
            writer: Mutex::new(writer),
            announced: AtomicUsize::new(0),
            commits: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// One more append will follow (see the module's note on announcements).
    pub fn announce(&self) {
        let _q = lock(&self.queue);
        self.announced.fetch_add(1, Ordering::Relaxed);
    }

    /// An announced append will not come after all (or came through
    /// `enqueue_announced`): one fewer to wait for.
    pub fn withdraw(&self) {
        let last = {
            let _q = lock(&self.queue);
            self.announced.fetch_sub(1, Ordering::Relaxed) == 1
        };
        if last {
            self.work.notify_one();
        }
    }

    /// Queues `msg`, waiting while the queue is full. `wake` tells the background
    /// committer to pick it up.
    pub fn enqueue(&self, msg: Msg, wake: bool) -> Result<(), AuditError> {
        let (was_empty, _) = self.push(msg, false)?;
        if wake && was_empty {
            self.work.notify_one();
        }
        Ok(())
    }

    /// Pushes `msg` once the queue has room; `announced`: it is the append an
    /// earlier `announce` promised, now no longer to wait for. Returns whether
    /// the queue was empty and whether this was the last announced append.
    /// The committer waits on an empty queue, or lingers for announced
    /// appends (both checked under the queue lock): only the push that ends
    /// emptiness, or the last announced one, needs to wake it — one futex
    /// call per batch instead of one per append.
    fn push(&self, msg: Msg, announced: bool) -> Result<(bool, bool), AuditError> {
        let mut q = lock(&self.queue);
        while q.items.len() >= self.capacity && !q.closed {
            q = self.space.wait(q).unwrap_or_else(|e| e.into_inner());
        }
        let last_announced = announced && self.announced.fetch_sub(1, Ordering::Relaxed) == 1;
        if q.closed {
            drop(q);
            if last_announced {
                self.work.notify_one();
            }
            return Err(AuditError::Closed);
        }
        let was_empty = q.items.is_empty();
        q.items.push_back(msg);
        Ok((was_empty, last_announced))
    }

    /// Queues the append an earlier `announce` promised. When it is the only
    /// append in flight (none queued, none announced) and no commit is
    /// running, it is committed here, on the calling thread, before this
    /// returns: a lone decision then skips two thread wake-ups (to the
    /// committer and back), tens of microseconds each on a virtual machine.
    /// Anything else goes to the background committer as usual.
    pub fn enqueue_announced(&self, msg: Msg) -> Result<(), AuditError> {
        let (was_empty, last_announced) = self.push(msg, true)?;
        if !(was_empty && last_announced) {
            if was_empty || last_announced {
                self.work.notify_one();
            }
            return Ok(());
        }
        match self.writer.try_lock() {
            Ok(mut w) => self.commit_one_batch(&mut w),
            Err(std::sync::TryLockError::Poisoned(p)) => {
                let mut w = p.into_inner();
                mark_failed(&mut w);
                self.commit_one_batch(&mut w);
            }
            // A commit (or a shred, a sync) is running: it, or the background
            // committer woken here, takes this append with the next batch.
            Err(std::sync::TryLockError::WouldBlock) => {}
        }
        // Whatever is still queued (this append, if the writer was busy, or
        // appends that came meanwhile) is the background committer's.
        if !lock(&self.queue).items.is_empty() {
            self.work.notify_one();
        }
        Ok(())
    }

    /// Appends and waits until durable: commits itself when no one else is.
    pub fn append_blocking(
        &self,
        body: Vec<u8>,
        origin: &'static str,
    ) -> Result<Receipt, AuditError> {
        let slot = Slot::new();
        let s = Arc::clone(&slot);
        self.enqueue(
            Msg::Append(Pending::new(body, origin, Box::new(move |r| s.fill(r)))),
            false,
        )?;
        loop {
            if let Some(r) = slot.try_take() {
                return r;
            }
            match self.writer.try_lock() {
                Ok(mut w) => self.drain_guarded(&mut w),
                Err(std::sync::TryLockError::Poisoned(p)) => {
                    let mut w = p.into_inner();
                    mark_failed(&mut w);
                    self.drain_guarded(&mut w)
                }
                Err(std::sync::TryLockError::WouldBlock) => {
                    if let Some(r) = slot.take_or_wait(RECHECK) {
                        return r;
                    }
                }
            }
        }
    }

    /// One commit of the appends at the head of the queue, without waiting
    /// for announced ones (a control message and what follows it are left to
    /// the background committer), a panic contained as in `drain_guarded`.
    fn commit_one_batch(&self, w: &mut Writer) {
        let max_batch = w.core.options.max_batch.max(1);
        let mut batch: Vec<Pending> = Vec::new();
        self.take_batch(&mut lock(&self.queue), max_batch, &mut batch, false);
        if !batch.is_empty() {
            self.guarded(w, |w| {
                self.commits.fetch_add(1, Ordering::Relaxed);
                w.commit_batch(&mut batch);
            });
        }
    }

    /// Moves up to `max_batch` appends from the head of `q` into `batch`.
    /// A control message ends them: taken and returned when `take_control`,
    /// else left at the head.
    fn take_batch(
        &self,
        q: &mut Queue,
        max_batch: usize,
        batch: &mut Vec<Pending>,
        take_control: bool,
    ) -> Option<Msg> {
        let mut control = None;
        while batch.len() < max_batch {
            match q.items.front() {
                Some(Msg::Append(_)) => {}
                Some(_) if take_control => {
                    control = q.items.pop_front();
                    break;
                }
                _ => break,
            }
            if let Some(Msg::Append(p)) = q.items.pop_front() {
                batch.push(p);
            }
        }
        self.space.notify_all();
        control
    }

    /// Commits everything queued, in order, in batches of at most `max_batch`.
    fn drain(&self, w: &mut Writer) {
        let max_batch = w.core.options.max_batch.max(1);
        let linger = w.core.options.max_linger;
        let mut batch: Vec<Pending> = Vec::new();
        loop {
            let started = Instant::now();
            let control = {
                let mut q = lock(&self.queue);
                // Wait for announced appends, so they join this commit.
                loop {
                    let left = linger.saturating_sub(started.elapsed());
                    if self.announced.load(Ordering::Relaxed) == 0
                        || left.is_zero()
                        || q.closed
                        || q.items.len() >= max_batch
                    {
                        break;
                    }
                    q = self
                        .work
                        .wait_timeout(q, left)
                        .map(|(g, _)| g)
                        .unwrap_or_else(|e| e.into_inner().0);
                }
                self.take_batch(&mut q, max_batch, &mut batch, true)
            };
            if batch.is_empty() && control.is_none() {
                return;
            }
            if !batch.is_empty() {
                // Counted before its appenders hear back, so they see it.
                self.commits.fetch_add(1, Ordering::Relaxed);
                w.commit_batch(&mut batch);
            }
            match control {
                Some(Msg::Sync(reply)) => {
                    let _ = reply.send(());
                }
                Some(Msg::Shred(before, reply)) => {
                    let _ = reply.send(w.shred(before));
                }
                Some(Msg::Append(_)) | None => {}
            }
        }
    }

    /// The background committer: commits whatever `submit` queues, until the log
    /// is closed and the queue is empty.
    pub fn run_background(self: Arc<Shared>) {
        loop {
            {
                let mut q = lock(&self.queue);
                while q.items.is_empty() && !q.closed {
                    q = self.work.wait(q).unwrap_or_else(|e| e.into_inner());
                }
                if q.items.is_empty() && q.closed {
                    break;
                }
            }
            let mut w = self.writer_checked();
            self.drain_guarded(&mut w);
        }
        let mut w = self.writer_checked();
        self.drain_guarded(&mut w);
        w.close_witness();
    }

    /// The writer, marked failed if a panic poisoned it (its state may be ahead
    /// of the database: never commit from it again).
    fn writer_checked(&self) -> MutexGuard<'_, Writer> {
        match self.writer.lock() {
            Ok(w) => w,
            Err(p) => {
                let mut w = p.into_inner();
                mark_failed(&mut w);
                w
            }
        }
    }

    /// [`Shared::drain`], with a panic inside it contained: the writer is marked
    /// failed (every later append is refused) and the committer lives on to
    /// refuse them, instead of leaving appenders waiting on a dead thread.
    fn drain_guarded(&self, w: &mut Writer) {
        self.guarded(w, |w| self.drain(w));
    }

    /// Runs `f` on the writer; a panic in it marks the writer failed.
    fn guarded(&self, w: &mut Writer, f: impl FnOnce(&mut Writer)) {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&mut *w)));
        if result.is_err() {
            mark_failed(w);
            tracing::error!("the audit writer panicked; appending is refused from now on");
        }
    }

    /// Refuses new appends and wakes the background committer to finish.
    pub fn close(&self) {
        lock(&self.queue).closed = true;
        self.work.notify_all();
        self.space.notify_all();
    }
}
