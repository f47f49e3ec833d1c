//! The bytes of one L2 entry: a fixed header with the entry's metadata, its tags, the
//! serialized key (checked on read, so two keys whose digests collide never share a value) and
//! the value in postcard.
//!
//! ```text
//! 0      2  magic "me"
//! 2      1  format version (1)
//! 3      1  flags: bit 0 negative, bit 1 signed, bit 2 tombstone
//! 4      8  created_at       (ms since the Unix epoch, little-endian)
//! 12     8  fresh_until
//! 20     8  stale_until
//! 28     8  stale_if_error_until
//! 36     4  load time (µs)
//! 40     2  tag count, then per tag: 2-byte length + UTF-8
//!        4  key length + key bytes
//!        4  payload length + payload (postcard)
//!       32  signed only: HMAC-SHA256 of everything before it
//! ```
//!
//! A tombstone is the first 12 bytes alone, with flag bit 2: what an invalidation leaves in
//! place of an entry, so that a write of a value made before it, arriving late, cannot bring
//! that value back (the write scripts keep the newer of two created-at times). It reads as no
//! entry.
//!
//! With a [`SigningKey`], entries are signed on write and [`decode_verified`] accepts only
//! entries signed with the same key, so a process without it cannot plant values.
//!
//! Values read from Redis are untrusted: every length is checked against [`Limits`] and the
//! bytes remaining before anything is allocated, and any malformed, truncated, trailing or
//! wrong-version input is a [`DecodeError`] (a miss), never a panic.
//!
//! postcard was chosen by `cargo bench -p memo-benches --bench codecs`: against bitcode and MessagePack it
//! decodes fastest for both a ~200-byte and a ~20 KB value (decoding is the L2 hit path), its
//! encoded size is within 1% of the smallest for small values, and its wire format is
//! documented as stable, which entries shared by instances of different builds need.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::keys::KeyBytes;
use signing::MAC_BYTES;
pub use signing::SigningKey;

const MAGIC: [u8; 2] = *b"me";

/// The envelope format this build writes and reads.
pub const FORMAT_VERSION: u8 = 1;

const HEADER: usize = 42;
const SIGNED: u8 = 2;
#[cfg_attr(not(feature = "redis"), allow(dead_code, reason = "tombstones are written by the Redis client"))]
const TOMBSTONE: u8 = 4;

/// An entry's metadata, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Meta {
    /// When the value was loaded, in milliseconds since the Unix epoch.
    pub created_at: u64,
    /// Until when it is fresh.
    pub fresh_until: u64,
    /// Until when it may be served stale while reloading.
    pub stale_until: u64,
    /// Until when it may answer for a failed load.
    pub stale_if_error_until: u64,
    /// How long its load took, in microseconds.
    pub load_micros: u32,
    /// A negative value (`None`, `Ok(None)`).
    pub negative: bool,
}

/// Bounds on what a decoder accepts, checked before allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest envelope accepted (and written), in bytes.
    pub max_bytes: usize,
    /// Most tags per entry.
    pub max_tags: usize,
    /// Longest tag, in bytes.
    pub max_tag_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_bytes: 1 << 20, max_tags: 256, max_tag_bytes: 1_024 }
    }
}

/// Why bytes are not a usable entry. Every variant is a miss.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Shorter than its lengths say.
    #[error("truncated envelope")]
    Truncated,
    /// Not an envelope.
    #[error("not a memo envelope")]
    BadMagic,
    /// Written by a format this build does not read.
    #[error("unsupported envelope format {0}")]
    UnsupportedVersion(u8),
    /// Beyond [`Limits`].
    #[error("envelope over its limits: {0}")]
    TooLarge(&'static str),
    /// Well-formed lengths but bad content (trailing bytes, a tag that is not UTF-8).
    #[error("malformed envelope: {0}")]
    Malformed(&'static str),
    /// Not signed, or not signed with this process's key.
    #[error("the entry is not signed with this key")]
    BadSignature,
    /// The stored key is not the key asked for (a digest collision).
    #[error("the entry belongs to another key")]
    OtherKey,
    /// The payload does not decode as the value type.
    #[error("payload does not decode: {0}")]
    Payload(#[from] postcard::Error),
}

/// Why a value cannot be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The value does not serialize.
    #[error("value does not serialize: {0}")]
    Payload(#[from] postcard::Error),
    /// Larger than [`Limits::max_bytes`], or a tag or count beyond the format's fields.
    #[error("entry too large for the L2: {0}")]
    TooLarge(&'static str),
}

/// Encodes an entry.
///
/// # Errors
///
/// [`EncodeError`] if the value does not serialize or the entry does not fit the format.
pub fn encode<V: Serialize>(
    meta: &Meta,
    tags: &[impl AsRef<str>],
    key: &KeyBytes,
    value: &V,
) -> Result<Vec<u8>, EncodeError> {
    encode_with(meta, tags, key, value, None)
}

/// A tombstone created at `at`: copies of the entry made before `at` are invalidated.
#[cfg(feature = "redis")]
pub(crate) fn tombstone(at: u64) -> [u8; 12] {
    let mut bytes = [0u8; 12];
    bytes[..2].copy_from_slice(&MAGIC);
    bytes[2] = FORMAT_VERSION;
    bytes[3] = TOMBSTONE;
    bytes[4..].copy_from_slice(&at.to_le_bytes());
    bytes
}

/// Whether `bytes` are a [`tombstone`]: no entry.
#[cfg(feature = "redis")]
pub(crate) fn is_tombstone(bytes: &[u8]) -> bool {
    bytes.len() == 12 && bytes[..2] == MAGIC && bytes[3] & TOMBSTONE != 0
}

/// [`encode`], signed with `signer` when given.
///
/// # Errors
///
/// As [`encode`].
///
/// ```
/// use memo_runtime::l2::envelope::{self, Limits, Meta, SigningKey};
/// use memo_runtime::l2::keys::KeyBytes;
///
/// let signer = SigningKey::new(*b"a secret of thirty-two bytes!!!!");
/// let key = KeyBytes::of(&1u8)?;
/// let bytes = envelope::encode_with(&Meta::default(), &[] as &[&str], &key, &5u8, Some(&signer))?;
/// assert!(envelope::decode_verified(&bytes, &Limits::default(), &signer).is_ok());
/// let forger = SigningKey::new(*b"another secret, not the right one");
/// assert!(envelope::decode_verified(&bytes, &Limits::default(), &forger).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn encode_with<V: Serialize>(
    meta: &Meta,
    tags: &[impl AsRef<str>],
    key: &KeyBytes,
    value: &V,
    signer: Option<&SigningKey>,
) -> Result<Vec<u8>, EncodeError> {
    let payload = postcard::to_stdvec(value)?;
    let tags_len: usize = tags.iter().map(|t| 2 + t.as_ref().len()).sum();
    let mut out = Vec::with_capacity(HEADER + tags_len + 8 + key.as_bytes().len() + payload.len());
    out.extend_from_slice(&MAGIC);
    out.push(FORMAT_VERSION);
    out.push(u8::from(meta.negative) | if signer.is_some() { SIGNED } else { 0 });
    for time in [meta.created_at, meta.fresh_until, meta.stale_until, meta.stale_if_error_until] {
        out.extend_from_slice(&time.to_le_bytes());
    }
    out.extend_from_slice(&meta.load_micros.to_le_bytes());
    let count = u16::try_from(tags.len()).map_err(|_| EncodeError::TooLarge("too many tags"))?;
    out.extend_from_slice(&count.to_le_bytes());
    for tag in tags {
        let tag = tag.as_ref().as_bytes();
        let len = u16::try_from(tag.len()).map_err(|_| EncodeError::TooLarge("tag too long"))?;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(tag);
    }
    for part in [key.as_bytes(), payload.as_slice()] {
        let len = u32::try_from(part.len()).map_err(|_| EncodeError::TooLarge("key or value too long"))?;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(part);
    }
    if let Some(signer) = signer {
        let mac = signer.sign(&out);
        out.extend_from_slice(&mac);
    }
    Ok(out)
}

/// A decoded envelope, borrowing from its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded<'a> {
    /// The entry's metadata.
    pub meta: Meta,
    /// Its tags.
    pub tags: Vec<&'a str>,
    /// The serialized key it was stored under.
    pub key: &'a [u8],
    payload: &'a [u8],
}

impl Decoded<'_> {
    /// The value, decoded as `V`.
    ///
    /// # Errors
    ///
    /// [`DecodeError::Payload`] if the payload is not a `V`.
    pub fn value<V: DeserializeOwned>(&self) -> Result<V, DecodeError> {
        Ok(postcard::from_bytes(self.payload)?)
    }

    /// The value, if the entry was stored under `key`.
    ///
    /// # Errors
    ///
    /// [`DecodeError::OtherKey`] for another key, [`DecodeError::Payload`] if not a `V`.
    pub fn value_for<V: DeserializeOwned>(&self, key: &KeyBytes) -> Result<V, DecodeError> {
        if self.key != key.as_bytes() {
            return Err(DecodeError::OtherKey);
        }
        self.value()
    }
}

/// A cursor that never reads past the end.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.bytes.len() {
            return Err(DecodeError::Truncated);
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    fn sized(&mut self) -> Result<&'a [u8], DecodeError> {
        let len = self.u32()? as usize;
        self.take(len)
    }
}

/// Decodes an envelope without trusting it.
///
/// # Errors
///
/// [`DecodeError`] for anything that is not a complete, well-formed envelope of this format
/// within `limits`.
pub fn decode<'a>(bytes: &'a [u8], limits: &Limits) -> Result<Decoded<'a>, DecodeError> {
    decode_with(bytes, limits, None)
}

/// [`decode`] that accepts only entries signed with `signer`.
///
/// # Errors
///
/// [`DecodeError::BadSignature`] for an unsigned or foreign-signed entry, else as [`decode`].
pub fn decode_verified<'a>(bytes: &'a [u8], limits: &Limits, signer: &SigningKey) -> Result<Decoded<'a>, DecodeError> {
    decode_with(bytes, limits, Some(signer))
}

/// [`decode_verified`] with a key, [`decode`] without.
///
/// # Errors
///
/// As those.
pub fn decode_with<'a>(
    bytes: &'a [u8],
    limits: &Limits,
    signer: Option<&SigningKey>,
) -> Result<Decoded<'a>, DecodeError> {
    if bytes.len() > limits.max_bytes {
        return Err(DecodeError::TooLarge("envelope"));
    }
    let signed = bytes.get(3).is_some_and(|flags| flags & SIGNED != 0);
    let bytes = if signed {
        let (body, mac) = bytes.split_at(bytes.len().checked_sub(MAC_BYTES).ok_or(DecodeError::Truncated)?);
        if signer.is_some_and(|s| !s.verify(body, mac)) {
            return Err(DecodeError::BadSignature);
        }
        body
    } else if signer.is_some() {
        return Err(DecodeError::BadSignature);
    } else {
        bytes
    };
    let mut r = Reader { bytes };
    if r.array::<2>()? != MAGIC {
        return Err(DecodeError::BadMagic);
    }
    let [version] = r.array::<1>()?;
    if version != FORMAT_VERSION {
        return Err(DecodeError::UnsupportedVersion(version));
    }
    let [flags] = r.array::<1>()?;
    if flags & !(1 | SIGNED) != 0 {
        return Err(DecodeError::Malformed("unknown flags"));
    }
    let meta = Meta {
        negative: flags & 1 == 1,
        created_at: r.u64()?,
        fresh_until: r.u64()?,
        stale_until: r.u64()?,
        stale_if_error_until: r.u64()?,
        load_micros: r.u32()?,
    };
    let count = usize::from(r.u16()?);
    if count > limits.max_tags {
        return Err(DecodeError::TooLarge("tag count"));
    }
    // Each tag takes at least its two length bytes: a count the bytes cannot hold is a lie.
    if count * 2 > r.bytes.len() {
        return Err(DecodeError::Truncated);
    }
    let mut tags = Vec::with_capacity(count);
    for _ in 0..count {
        let len = usize::from(r.u16()?);
        if len > limits.max_tag_bytes {
            return Err(DecodeError::TooLarge("tag"));
        }
        let tag = std::str::from_utf8(r.take(len)?).map_err(|_| DecodeError::Malformed("tag is not UTF-8"))?;
        tags.push(tag);
    }
    let key = r.sized()?;
    let payload = r.sized()?;
    if !r.bytes.is_empty() {
        return Err(DecodeError::Malformed("trailing bytes"));
    }
    Ok(Decoded { meta, tags, key, payload })
}

mod signing;
#[cfg(test)]
mod tests;
