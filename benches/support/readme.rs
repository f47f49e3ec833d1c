//! Writes a bench's table into the README, between `<!-- {section}:start -->` and
//! `<!-- {section}:end -->`.

/// Replaces the README's `section` with `table` when the bench was run with `-- --readme`.
pub fn write_if_asked(section: &str, table: &str) {
    if !std::env::args().any(|a| a == "--readme") {
        return;
    }
    // This package is the workspace's `benches` folder.
    let path = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"));
    let readme = std::fs::read_to_string(path).expect("README.md is readable");
    let (start, end) = (format!("<!-- {section}:start -->\n"), format!("<!-- {section}:end -->"));
    let (Some(a), Some(b)) = (readme.find(&start), readme.find(&end)) else {
        panic!("README.md has no {start:?} .. {end:?} markers");
    };
    let updated = format!("{}{start}{table}{}", &readme[..a], &readme[b..]);
    std::fs::write(path, updated).expect("README.md is writable");
}
