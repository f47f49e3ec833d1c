//! Compile-time behaviour of the macros: every misuse is an error on the user's token that
//! says what to write instead (`tests/ui/fail/*.rs` with their `.stderr`), and the accepted
//! signatures compile (`tests/ui/pass/*.rs`).
//!
//! After an intended change to a message, regenerate the snapshots with
//! `TRYBUILD=overwrite cargo test --test ui` and review the `.stderr` diff like code.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/fail/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
