//! The shared second level (L2) that `#[cached(distributed)]` entries are kept in (feature
//! `distributed`): how an entry is laid out in bytes and how its key is named.
//!
//! The Redis client and the backplane that keeps every instance's L1 coherent build on these.
//!
//! ```
//! use memo_runtime::l2::{envelope, keys};
//!
//! let key = keys::KeyBytes::of(&(42u64, "eu"))?;
//! let redis_key = keys::entry_key("shop", "catalog::price", 2, &key);
//! assert!(redis_key.starts_with("shop:catalog%3A%3Aprice:v2:"));
//!
//! let meta = envelope::Meta { created_at: 1_000, fresh_until: 61_000, ..envelope::Meta::default() };
//! let bytes = envelope::encode(&meta, &["product:42"], &key, &1999u32)?;
//! let decoded = envelope::decode(&bytes, &envelope::Limits::default())?;
//! assert_eq!(decoded.meta, meta);
//! assert_eq!(decoded.value::<u32>()?, 1999);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#[cfg(feature = "redis")]
pub mod backplane;
#[cfg(feature = "redis")]
pub mod breaker;
#[cfg(feature = "redis")]
mod connection;
pub mod envelope;
#[cfg(feature = "redis")]
pub mod fleet;
#[cfg(feature = "redis")]
pub mod gate;
pub mod keys;
#[cfg(feature = "redis")]
pub(crate) mod message;
#[cfg(feature = "redis")]
pub mod outbox;
#[cfg(feature = "redis")]
pub mod redis;
#[cfg(feature = "redis")]
mod scripts;
#[cfg(feature = "redis")]
pub(crate) mod settings;
#[cfg(feature = "tls")]
mod tls;
#[cfg(feature = "redis")]
pub mod writes;
