//! The catalog's load test in a short mode: caching must cut database queries per request by
//! at least 90% on the Zipf workload (100,000 products), and the table and plot must be
//! written. Each run sends a fixed number of requests from fixed seeded sequences, so the
//! reduction does not depend on how fast (or how busy) the machine is.

mod support;

use support::catalog;

#[test]
fn caching_cuts_database_queries_per_request_by_at_least_90_percent() {
    let dir = catalog::temp_dir("load");
    let plot = dir.join("load.svg");
    let db = dir.join("catalog.sqlite3");
    let output = catalog::run(
        &[
            "--load-test",
            "--requests",
            "100000",
            "--baseline-requests",
            "5000",
            "--check-reduction",
            "90",
            "--db",
            db.to_str().unwrap(),
            "--plot",
            plot.to_str().unwrap(),
        ],
        &[],
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    // Shown with --nocapture, and in CI's log when it fails.
    println!("{stdout}");
    assert!(output.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("database queries per request"), "{stdout}");
    assert!(stdout.contains("seeded") || stderr.contains("seeded"), "a fresh database was seeded: {stderr}");
    let svg = std::fs::read_to_string(&plot).expect("the plot");
    assert!(svg.starts_with("<svg") && svg.matches("<polyline").count() == 6, "three panels, two runs each");
}
