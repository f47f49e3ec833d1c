use memo_runtime::cached;

#[cached(ttl = 60)]
fn load(id: u64) -> impl std::future::Future<Output = u64> {
    async move { id }
}

fn main() {}
