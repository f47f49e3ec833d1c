use memo_runtime::cached;

#[derive(Clone, PartialEq, Eq, Hash)]
struct UserId(u64);

#[cached(ttl = 60, distributed)]
async fn user_name(id: UserId) -> String {
    id.0.to_string()
}

fn main() {}
