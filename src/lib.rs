//! The small examples of memo (`examples/quickstart.rs`, `examples/tags.rs`): they build only
//! memo and tokio. The catalog service, the HTTP example, the tests and the benchmarks are
//! packages of their own in the workspace.
