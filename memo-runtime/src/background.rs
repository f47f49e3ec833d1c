//! Where loads that outlive their caller run when there is no tokio task to run them in: the
//! background reloads (`stale`, `early_refresh`) and timed-out loads of sync functions, and
//! those of async functions called outside a tokio runtime.
//!
//! A small pool of [`THREADS`] threads, started as work arrives, takes them from a queue of
//! at most [`QUEUED`] loads. However many keys go stale at once, no more threads start: a
//! background reload that finds the queue full is not made (the stale value keeps answering,
//! and the next call tries again), and a call with a `timeout` runs its load itself.

use std::collections::VecDeque;
use std::pin::pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

/// Threads that run background loads, at most.
pub const THREADS: usize = 8;
/// Background loads that may wait for a thread.
pub const QUEUED: usize = 1_024;

/// A load to run.
pub(crate) type Job = Box<dyn FnOnce() + Send>;

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    threads: usize,
    idle: usize,
}

struct Pool {
    queue: Mutex<Queue>,
    work: Condvar,
}

static POOL: Pool =
    Pool { queue: Mutex::new(Queue { jobs: VecDeque::new(), threads: 0, idle: 0 }), work: Condvar::new() };

impl Pool {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Runs `job` on a pool thread; gives it back when the queue is full (or no thread can be
/// started), for the caller to decide.
pub(crate) fn spawn(job: Job) -> Result<(), Job> {
    let mut queue = POOL.lock();
    if queue.jobs.len() >= QUEUED {
        return Err(job);
    }
    queue.jobs.push_back(job);
    if queue.idle == 0 && queue.threads < THREADS {
        let started = std::thread::Builder::new().name("memo-load".into()).spawn(work);
        if started.is_ok() {
            queue.threads += 1;
        } else if queue.threads == 0 {
            return Err(queue.jobs.pop_back().expect("just queued"));
        }
    }
    drop(queue);
    POOL.work.notify_one();
    Ok(())
}

/// A pool thread: runs queued loads for as long as the process lives.
fn work() {
    let mut queue = POOL.lock();
    loop {
        match queue.jobs.pop_front() {
            Some(job) => {
                drop(queue);
                // A load's panic is caught where it is settled; nothing else can unwind here.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                queue = POOL.lock();
            }
            None => {
                queue.idle += 1;
                queue = POOL.work.wait(queue).unwrap_or_else(PoisonError::into_inner);
                queue.idle -= 1;
            }
        }
    }
}

/// Runs a future to completion on this thread: for an async function's load outside a tokio
/// runtime, on a pool thread.
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(output) => return output,
            Poll::Pending => std::thread::park(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Barrier};

    #[test]
    fn at_most_the_pool_size_runs_at_once_and_a_full_queue_hands_work_back() {
        // Hold every thread, fill the queue, and see the next job refused.
        let gate = Arc::new(Barrier::new(super::THREADS + 1));
        let running = Arc::new(AtomicUsize::new(0));
        for _ in 0..super::THREADS {
            let (gate, running) = (Arc::clone(&gate), Arc::clone(&running));
            super::spawn(Box::new(move || {
                running.fetch_add(1, Ordering::SeqCst);
                gate.wait();
            }))
            .map_err(|_| ())
            .unwrap();
        }
        while running.load(Ordering::SeqCst) < super::THREADS {
            std::thread::yield_now();
        }
        let ran = Arc::new(AtomicUsize::new(0));
        for _ in 0..super::QUEUED {
            let ran = Arc::clone(&ran);
            let job: super::Job = Box::new(move || {
                ran.fetch_add(1, Ordering::SeqCst);
            });
            super::spawn(job).map_err(|_| ()).unwrap();
        }
        assert!(super::spawn(Box::new(|| {})).is_err(), "the queue is full: the job comes back");
        assert_eq!(ran.load(Ordering::SeqCst), 0, "no thread beyond the pool's took them");
        gate.wait();
        while ran.load(Ordering::SeqCst) < super::QUEUED {
            std::thread::yield_now();
        }
    }

    #[test]
    fn block_on_runs_a_future_that_is_woken_from_another_thread() {
        let (tx, rx) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(10));
            let _ = tx.send(7);
        });
        assert_eq!(super::block_on(rx), Ok(7));
    }
}
