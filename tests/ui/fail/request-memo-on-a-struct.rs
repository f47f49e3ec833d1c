use memo_runtime::request_memo;

#[request_memo]
struct Users;

fn main() {}
