//! Helpers shared by the integration tests: real Redis and PostgreSQL servers, and the catalog
//! example as a running service.

pub mod catalog;
pub mod harness;
pub mod log_lines;
pub mod postgres_server;
pub mod proxy;
pub mod redis_server;
