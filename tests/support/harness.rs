//! For test programs with `harness = false` that run their scenarios themselves: the summary
//! line `cargo test` prints for a test binary, and the exit code that goes with it.

#![allow(dead_code, reason = "each test binary uses a part of these helpers")]

use std::process::ExitCode;

/// Prints the summary of `passed` and `failed` scenarios and returns the program's exit code.
pub fn summary(passed: usize, failed: usize) -> ExitCode {
    println!(
        "\ntest result: {}. {passed} passed; {failed} failed; 0 ignored; 0 measured; 0 filtered out",
        if failed == 0 { "ok" } else { "FAILED" }
    );
    if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
