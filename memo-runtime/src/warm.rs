//! Cache warming: call a cached function for a list of keys before traffic needs them.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Calls `call` for every item, at most `concurrency` calls at a time, and waits until all
/// are done; returns how many calls ran. Each call is an ordinary call of a cached function,
/// so it loads what is missing (single-flight with live traffic) and skips what is fresh.
///
/// Does nothing while caching is off ([`enabled`](crate::enabled)). A `concurrency` of 0 is
/// taken as 1.
///
/// ```
/// use memo_runtime::cached;
///
/// #[cached(ttl = "10m")]
/// async fn product_name(id: u64) -> Result<String, std::io::Error> {
///     Ok(format!("product {id}")) // SELECT name FROM products WHERE id = $1
/// }
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() {
///     // At startup: the 100 best sellers, 8 queries at a time.
///     let warmed = memo_runtime::warm(1..=100, 8, |id| product_name(id)).await;
///     assert_eq!(warmed, 100);
///
///     product_name(42).await.unwrap(); // a hit
///     assert_eq!(product_name::stats().loads, 100);
/// }
/// ```
pub async fn warm<I, F, Fut>(items: I, concurrency: usize, mut call: F) -> usize
where
    I: IntoIterator,
    F: FnMut(I::Item) -> Fut,
    Fut: Future,
{
    if !crate::enabled() {
        return 0;
    }
    let mut items = items.into_iter();
    let mut running: Vec<Pin<Box<Fut>>> = Vec::with_capacity(concurrency.max(1));
    let mut done = 0;
    loop {
        while running.len() < concurrency.max(1) {
            match items.next() {
                Some(item) => running.push(Box::pin(call(item))),
                None => break,
            }
        }
        if running.is_empty() {
            return done;
        }
        done += std::future::poll_fn(|cx| poll_some(&mut running, cx)).await;
    }
}

/// Polls every running call, drops the finished ones and reports how many finished; pending
/// while none did.
fn poll_some<Fut: Future>(running: &mut Vec<Pin<Box<Fut>>>, cx: &mut Context<'_>) -> Poll<usize> {
    let before = running.len();
    running.retain_mut(|call| call.as_mut().poll(cx).is_pending());
    match before - running.len() {
        0 => Poll::Pending,
        finished => Poll::Ready(finished),
    }
}
