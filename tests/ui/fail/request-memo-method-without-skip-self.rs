use memo_runtime::request_memo;

struct Repo;

impl Repo {
    #[request_memo]
    async fn user(&self, id: u64) -> String {
        id.to_string()
    }
}

fn main() {}
