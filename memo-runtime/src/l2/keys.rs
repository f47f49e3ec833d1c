//! Names of L2 entries: `{namespace}:{cache name}:v{version}:{digest}`.
//!
//! The digest is XXH3-128 of the key serialized with postcard: stable across builds and
//! platforms, unlike `std::hash`. The namespace and cache name are percent-escaped (`:`, `%`,
//! `{`, `}`, whitespace, control and non-ASCII bytes), so no name can impersonate another's
//! prefix or form a Redis Cluster hash tag. Digests could in principle collide; the entry also
//! stores the full serialized key, and a read checks it.

use serde::Serialize;

/// A key serialized for the L2.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyBytes(Vec<u8>);

impl KeyBytes {
    /// Serializes `key`.
    ///
    /// # Errors
    ///
    /// If the key does not serialize.
    ///
    /// ```
    /// let a = memo_runtime::l2::keys::KeyBytes::of(&("user", 7u32)).unwrap();
    /// let b = memo_runtime::l2::keys::KeyBytes::of(&("user", 7u32)).unwrap();
    /// assert_eq!(a, b);
    /// ```
    pub fn of<K: Serialize + ?Sized>(key: &K) -> Result<Self, postcard::Error> {
        postcard::to_stdvec(key).map(Self)
    }

    /// The serialized bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The stable digest of the key, as 32 hex digits.
    ///
    /// ```
    /// let key = memo_runtime::l2::keys::KeyBytes::of(&1u8).unwrap();
    /// assert_eq!(key.digest().len(), 32);
    /// ```
    #[must_use]
    pub fn digest(&self) -> String {
        format!("{:032x}", xxhash_rust::xxh3::xxh3_128(&self.0))
    }
}

/// Escapes a name part: keeps `[A-Za-z0-9_.-]` and percent-encodes every other byte.
///
/// ```
/// assert_eq!(memo_runtime::l2::keys::escape("app::users v2"), "app%3A%3Ausers%20v2");
/// ```
#[must_use]
pub fn escape(part: &str) -> String {
    let mut out = String::with_capacity(part.len());
    for byte in part.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'.' | b'-') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The Redis key of one entry.
///
/// ```
/// let key = memo_runtime::l2::keys::KeyBytes::of(&42u64).unwrap();
/// let name = memo_runtime::l2::keys::entry_key("shop", "prices", 3, &key);
/// assert_eq!(name, format!("shop:prices:v3:{}", key.digest()));
/// ```
#[must_use]
pub fn entry_key(namespace: &str, cache: &str, version: u32, key: &KeyBytes) -> String {
    format!("{}:{}:v{version}:{}", escape(namespace), escape(cache), key.digest())
}

/// The Redis key of the lock an instance holds while it loads the entry `entry_key` (see
/// [`fleet`](super::fleet)).
///
/// ```
/// assert_eq!(memo_runtime::l2::keys::lock_key("shop:prices:v3:00ff"), "shop:prices:v3:00ff:lock");
/// ```
#[must_use]
pub fn lock_key(entry_key: &str) -> String {
    format!("{entry_key}:lock")
}

/// The Redis key holding when a whole cache was last cleared (`invalidate_all`): its entries
/// made before then are misses everywhere, also in instances started later.
///
/// ```
/// let name = memo_runtime::l2::keys::cleared_key("shop", "prices", 3);
/// assert_eq!(name, "shop:prices:v3:#cleared");
/// ```
#[must_use]
pub fn cleared_key(namespace: &str, cache: &str, version: u32) -> String {
    format!("{}:{}:v{version}:#cleared", escape(namespace), escape(cache))
}

/// The Redis key holding when `tag` was last invalidated.
///
/// ```
/// let name = memo_runtime::l2::keys::tag_key("shop", "product:42");
/// assert!(name.starts_with("shop:#tag:"));
/// ```
#[must_use]
pub fn tag_key(namespace: &str, tag: &str) -> String {
    // `#` cannot appear in an escaped cache name, so tag keys never meet entry keys.
    format!("{}:#tag:{:032x}", escape(namespace), xxhash_rust::xxh3::xxh3_128(tag.as_bytes()))
}

/// The Redis key holding the time before which every tagged entry counts as invalidated: set
/// when an instance could not keep every tag it invalidated while Redis was out of reach.
///
/// ```
/// assert_eq!(memo_runtime::l2::keys::tags_floor_key("shop"), "shop:#tags");
/// ```
#[must_use]
pub fn tags_floor_key(namespace: &str) -> String {
    format!("{}:#tags", escape(namespace))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_differ_never_share_a_key() {
        let key = KeyBytes::of(&1u8).unwrap();
        let pairs = [("a:b", "c"), ("a", "b:c"), ("a%3Ab", "c"), ("a", "b%3Ac")];
        let names: std::collections::HashSet<String> =
            pairs.iter().map(|(ns, cache)| entry_key(ns, cache, 0, &key)).collect();
        assert_eq!(names.len(), pairs.len());
        assert!(!entry_key("{x}", "y", 0, &key).contains('{'), "no accidental cluster hash tags");
    }

    #[test]
    fn digests_are_stable_across_builds() {
        // Pinned: a change here would cold-start every deployed L2.
        let key = KeyBytes::of(&(42u64, "eu")).unwrap();
        assert_eq!(key.as_bytes(), &[42, 2, b'e', b'u']);
        assert_eq!(key.digest(), "01f8383e771b48e290aec48935971599");
    }
}
