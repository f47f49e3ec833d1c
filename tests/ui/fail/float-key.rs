use memo_runtime::cached;

#[cached(ttl = 60)]
fn shipping(weight_kg: f64, zone: u8) -> u32 {
    (weight_kg * f64::from(zone)) as u32
}

fn main() {}
