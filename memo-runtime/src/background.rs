//! Where loads that outlive their caller run when there is no tokio task to run them in: the
//! background reloads (`stale`, `early_refresh`) and timed-out loads of sync functions, and
//! those of async functions called outside a tokio runtime.
//!
//! A small pool of at most [`THREADS`] threads, started as work arrives, runs them; a load is
//! handed to the pool only when one of its threads can start it at once, so nothing waits in
//! a queue behind other loads (a caller that misses never waits for a reload that has not
//! started). However many keys go stale at once, no more threads start: a background reload
//! that finds every thread busy is not made (the stale value keeps answering, and a later call
//! tries again), and a call with a `timeout` runs its load itself.

use std::collections::VecDeque;
use std::pin::pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

/// Threads that run background loads, at most.
pub const THREADS: usize = 8;

/// A load to run.
pub(crate) type Job = Box<dyn FnOnce() + Send>;

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    threads: usize,
    /// Threads not running a job (started, or done with their last): each job waiting has one.
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

/// Runs `job` on a pool thread that starts it at once; gives it back when every thread is busy
/// (or no thread can be started), for the caller to decide.
pub(crate) fn spawn(job: Job) -> Result<(), Job> {
    let mut queue = POOL.lock();
    if queue.jobs.len() >= queue.idle {
        // Every idle thread has a job waiting for it already: a new thread, if one may start.
        if queue.threads >= THREADS || std::thread::Builder::new().name("memo-load".into()).spawn(work).is_err() {
            return Err(job);
        }
        queue.threads += 1;
        queue.idle += 1;
    }
    queue.jobs.push_back(job);
    drop(queue);
    POOL.work.notify_one();
    Ok(())
}

/// A pool thread: runs the loads handed to it for as long as the process lives.
fn work() {
    let mut queue = POOL.lock();
    loop {
        match queue.jobs.pop_front() {
            Some(job) => {
                queue.idle -= 1;
                drop(queue);
                // A load's panic is caught where it is settled; nothing else can unwind here.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                queue = POOL.lock();
                queue.idle += 1;
            }
            None => queue = POOL.work.wait(queue).unwrap_or_else(PoisonError::into_inner),
        }
    }
}

/// Runs a future to completion on this thread: for an async function's load outside a tokio
/// runtime, on a pool thread, and for a sync function's miss path. A future that is ready at
/// its first poll (a sync function's) costs no allocation.
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    block_on_pinned(pin!(future))
}

/// [`block_on`] for a future pinned where it was made, so that a large one is not moved.
pub(crate) fn block_on_pinned<F: Future + ?Sized>(mut future: std::pin::Pin<&mut F>) -> F::Output {
    if let Poll::Ready(output) = future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        return output;
    }
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
    fn at_most_the_pool_size_runs_at_once_and_nothing_waits_behind_busy_threads() {
        // Hold every thread: the next job comes back instead of waiting in a queue.
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
        assert!(super::spawn(Box::new(|| {})).is_err(), "every thread is taken: the job comes back");
        while running.load(Ordering::SeqCst) < super::THREADS {
            std::thread::yield_now();
        }
        gate.wait();
        // The threads are idle again: a job starts at once.
        let (tx, rx) = std::sync::mpsc::channel();
        let mut job: super::Job = Box::new(move || tx.send(()).unwrap());
        loop {
            match super::spawn(job) {
                Ok(()) => break,
                Err(back) => {
                    job = back; // a thread is between the barrier and its wait for work
                    std::thread::yield_now();
                }
            }
        }
        rx.recv().unwrap();
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
