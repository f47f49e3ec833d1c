use memo_runtime::{cached, invalidate};

#[cached(ttl = 60)]
fn load(id: u64) -> u64 {
    id
}

#[invalidate(entries = [load])]
fn rename(id: u64) -> Result<(), String> {
    let _ = id;
    Ok(())
}

fn main() {}
