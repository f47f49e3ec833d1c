use memo_runtime::cached;

#[derive(Clone)]
struct Profile {
    name: String,
}

#[cached(ttl = 60, distributed)]
async fn profile(id: u64) -> Option<Profile> {
    Some(Profile { name: id.to_string() })
}

fn main() {}
