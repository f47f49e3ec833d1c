use memo_runtime::cached;

#[cached(ttl = 60)]
fn first_word(text: &str) -> &str {
    text.split(' ').next().unwrap_or("")
}

fn main() {}
