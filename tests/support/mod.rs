//! Helpers shared by the integration tests that need a real Redis.

pub mod redis_server;
