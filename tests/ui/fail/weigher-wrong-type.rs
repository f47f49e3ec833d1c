use memo_runtime::cached;

fn weigh(page: &Result<String, String>) -> usize {
    page.as_ref().map_or(0, String::len)
}

// The cache keeps the `Ok` value, so the weigher takes `&String`.
#[cached(ttl = 60, max_bytes = "64MiB", weigher = weigh)]
fn page(id: u64) -> Result<String, String> {
    Ok(id.to_string())
}

fn main() {}
