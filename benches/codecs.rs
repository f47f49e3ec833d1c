//! The serde format for values kept in the L2: encoded size, encode and decode time of a
//! ~200-byte and a ~20 KB value, for postcard, bitcode and MessagePack (rmp-serde).
//!
//! Run: `cargo bench -p memo-benches --bench codecs`. The sizes are printed before the timings.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Product {
    id: u64,
    sku: String,
    name: String,
    description: String,
    price_cents: u32,
    in_stock: bool,
    categories: Vec<String>,
    ratings: Vec<u16>,
}

fn product(id: u64, words: usize, ratings: usize) -> Product {
    let text: Vec<&str> =
        ["sturdy", "kettle", "steel", "blue", "with", "a", "lid"].into_iter().cycle().take(words).collect();
    Product {
        id,
        sku: format!("SKU-{id:08}"),
        name: format!("product {id}"),
        description: text.join(" "),
        price_cents: 1_999,
        in_stock: true,
        categories: vec!["kitchen".into(), "appliances".into()],
        ratings: (0..ratings).map(|i| (i % 5) as u16 + 1).collect(),
    }
}

type Encode = fn(&Product) -> Vec<u8>;
type Decode = fn(&[u8]) -> Product;

fn codecs() -> [(&'static str, Encode, Decode); 3] {
    [
        ("postcard", |p| postcard::to_stdvec(p).expect("encode"), |b| postcard::from_bytes(b).expect("decode")),
        ("bitcode", |p| bitcode::serialize(p).expect("encode"), |b| bitcode::deserialize(b).expect("decode")),
        ("rmp_serde", |p| rmp_serde::to_vec(p).expect("encode"), |b| rmp_serde::from_slice(b).expect("decode")),
    ]
}

fn bench(c: &mut Criterion) {
    let values = [("200B", product(1, 16, 8)), ("20KB", product(2, 2_400, 3_000))];
    println!("\n| value | codec | encoded bytes |");
    println!("|---|---|---|");
    for (label, value) in &values {
        for (name, encode, decode) in codecs() {
            let bytes = encode(value);
            assert_eq!(&decode(&bytes), value);
            println!("| {label} | {name} | {} |", bytes.len());
        }
    }
    for (label, value) in &values {
        let mut group = c.benchmark_group(format!("codec_{label}"));
        for (name, encode, decode) in codecs() {
            let bytes = encode(value);
            group.bench_function(format!("{name}_encode"), |b| b.iter(|| encode(black_box(value))));
            group.bench_function(format!("{name}_decode"), |b| b.iter(|| decode(black_box(&bytes))));
        }
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
