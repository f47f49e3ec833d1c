use memo_runtime::cached;

#[derive(Clone, PartialEq, Eq, Hash)]
struct Name<'a> {
    first: &'a str,
}

// A key outlives the call, so what it is made from cannot borrow.
#[cached(ttl = 60)]
fn greeting<'a>(name: Name<'a>, titles: Vec<&'a str>) -> String {
    format!("{} {}", titles.join(" "), name.first)
}

fn main() {}
