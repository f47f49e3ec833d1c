use memo_runtime::invalidate;

#[invalidate]
fn rename(id: u64, name: String) -> Result<(), String> {
    let _ = (id, name);
    Ok(())
}

fn main() {}
