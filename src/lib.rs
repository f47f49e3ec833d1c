//! Examples, integration tests and benchmarks for memo.
