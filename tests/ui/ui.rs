//! Compile-time behaviour of the macros: every misuse is an error on the user's token that
//! says what to write instead (`tests/ui/fail/*.rs` with their `.stderr`), and the accepted
//! signatures compile (`tests/ui/pass/*.rs`). Paths in the snapshots are relative to
//! `tests/ui`, this package's folder.
//!
//! After an intended change to a message, regenerate the snapshots with
//! `TRYBUILD=overwrite cargo test -p memo-ui-tests --test ui` and review the `.stderr` diff like code.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("fail/*.rs");
    t.pass("pass/*.rs");
}
