use memo_runtime::cached;

// One cache per instantiation is kept for generic free functions; a key of a type parameter
// needs the traits of any key.
#[cached(ttl = 60)]
fn describe<T: std::fmt::Debug>(value: T) -> String {
    format!("{value:?}")
}

struct Repo;

impl Repo {
    #[cached(ttl = 60, skip(self))]
    fn load<T: Default + Clone + Send + Sync>(&self, id: u64) -> T {
        let _ = id;
        T::default()
    }
}

#[cached(ttl = 60)]
fn chunk<const N: usize>(id: u64) -> [u8; N] {
    [id as u8; N]
}

#[cached(ttl = 60, request_consistent)]
fn parse<T: std::str::FromStr + Clone + Send + Sync>(text: String) -> Option<T> {
    text.parse().ok()
}

fn main() {}
