//! The secret that signs entries: HMAC-SHA256 over the whole entry.

/// The length of a signature.
pub(super) const MAC_BYTES: usize = 32;

/// A secret that signs L2 entries (HMAC-SHA256) and checks them on read.
#[derive(Clone)]
pub struct SigningKey(Vec<u8>);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(***)")
    }
}

impl SigningKey {
    /// A key from secret bytes (use at least 32 random bytes).
    ///
    /// ```
    /// let key = memo_runtime::l2::envelope::SigningKey::new(*b"0123456789abcdef0123456789abcdef");
    /// assert_eq!(format!("{key:?}"), "SigningKey(***)");
    /// ```
    pub fn new(secret: impl Into<Vec<u8>>) -> Self {
        Self(secret.into())
    }

    fn mac(&self) -> hmac::Hmac<sha2::Sha256> {
        use hmac::Mac;
        // HMAC takes keys of any length.
        <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(&self.0).unwrap_or_else(|_| unreachable!())
    }

    pub(super) fn sign(&self, data: &[u8]) -> [u8; MAC_BYTES] {
        use hmac::Mac;
        let mut mac = self.mac();
        mac.update(data);
        mac.finalize().into_bytes().into()
    }

    pub(super) fn verify(&self, data: &[u8], tag: &[u8]) -> bool {
        use hmac::Mac;
        let mut mac = self.mac();
        mac.update(data);
        mac.verify_slice(tag).is_ok()
    }
}
