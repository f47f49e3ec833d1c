use memo_runtime::cached;

#[cached(ttl = 60)]
fn area((width, height): (u32, u32)) -> u32 {
    width * height
}

fn main() {}
