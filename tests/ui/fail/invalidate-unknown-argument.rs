use memo_runtime::invalidate;

#[invalidate(tag = ["products"])]
fn rename(id: u64) -> Result<(), String> {
    let _ = id;
    Ok(())
}

fn main() {}
