use std::future::Future;
use std::pin::Pin;

use memo_runtime::cached;

// A boxed future is cached as the `async fn` it stands for only when the body is nothing but
// `Box::pin(async move { .. })`, as `#[async_trait]` writes it.
#[cached(ttl = 60)]
fn price(id: u64) -> Pin<Box<dyn Future<Output = u64> + Send>> {
    let doubled = id * 2;
    Box::pin(async move { doubled })
}

fn main() {}
