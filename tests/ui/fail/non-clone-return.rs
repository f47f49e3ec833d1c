use memo_runtime::cached;

struct Report {
    lines: Vec<String>,
}

#[cached(ttl = 60)]
fn report(id: u64) -> Result<Report, std::io::Error> {
    Ok(Report { lines: vec![id.to_string()] })
}

fn main() {}
