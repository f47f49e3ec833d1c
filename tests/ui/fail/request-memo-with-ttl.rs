use memo_runtime::request_memo;

#[request_memo(ttl = 60)]
async fn user(id: u64) -> String {
    id.to_string()
}

fn main() {}
