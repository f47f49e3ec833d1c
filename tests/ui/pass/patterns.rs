//! Parameters bound to patterns: keyed by their value, their bindings usable in `key = ...`
//! and `tags = [...]`; the handle takes the whole value under a name made of the bindings.

use memo_runtime::{cached, request_memo};

#[derive(Clone, PartialEq, Eq, Hash)]
struct Point {
    x: u32,
    y: u32,
}

#[cached(ttl = 60)]
fn area((width, height): (u32, u32)) -> u32 {
    width * height
}

#[cached(ttl = 60, key = (a, b), tags = [format!("sum:{a}")])]
fn sum((a, b): (u32, u32), Point { x, mut y }: Point) -> u32 {
    y += 1;
    a + b + x + y
}

#[cached(ttl = 60, tags = [format!("point:{x}")])]
async fn norm(&Point { x, y }: &Point) -> u32 {
    x + y
}

#[request_memo]
fn pair((a, b): (u8, u8)) -> u16 {
    u16::from(a) + u16::from(b)
}

async fn use_them() {
    let _: u32 = area((2, 3));
    let _: bool = area::invalidate(&(2, 3));
    let _: u32 = sum((1, 2), Point { x: 1, y: 1 });
    let _: bool = sum::invalidate(&(1, 2));
    sum::put(&(1, 2), 4);
    let _: u32 = norm(&Point { x: 1, y: 2 }).await;
    let _: bool = norm::invalidate(&Point { x: 1, y: 2 });
    let _: u32 = sum::refresh((1, 2), Point { x: 1, y: 1 });
    let _: u32 = norm::refresh(&Point { x: 1, y: 2 }).await;
    let _: u16 = pair((1, 2));
}

fn main() {
    let _ = use_them;
}
