//! The backplane's messages: what one instance tells the others to drop.
//!
//! Text, one message per pub/sub payload: `1 <instance> k <cache> <key hex> <at ms>` (one
//! entry), `1 <instance> m <cache> <key hex>:<at ms>,...` (several entries of one cache: the
//! values a batch of loads wrote), `1 <instance> a <cache>` (a whole cache), `1 <instance> t
//! <tag hex>` (a tag) and `1 <instance> T` (every tagged entry: what an instance sends when it
//! could not keep every tag it invalidated while Redis was out of reach), `1 <instance> r <cache>
//! <key hex>` (a load that held the key's fleet lock ended without a value). Cache names are
//! escaped like keys. `at` says which copies are stale: those made at or before it, by the
//! sender's clock.

use super::keys::escape;

/// A message. Cache names are plain when built and escaped once decoded (compare them with
/// `escape(name)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Message {
    Key { cache: String, key: Vec<u8>, at: u64 },
    Keys { cache: String, keys: Vec<(Vec<u8>, u64)> },
    All { cache: String },
    Tag { tag: String },
    AllTags,
    Released { cache: String, key: Vec<u8> },
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

impl Message {
    pub(crate) fn encode(&self, instance: u64) -> String {
        match self {
            Self::Key { cache, key, at } => format!("1 {instance:016x} k {} {} {at}", escape(cache), hex(key)),
            Self::Keys { cache, keys } => {
                let keys: Vec<String> = keys.iter().map(|(key, at)| format!("{}:{at}", hex(key))).collect();
                format!("1 {instance:016x} m {} {}", escape(cache), keys.join(","))
            }
            Self::All { cache } => format!("1 {instance:016x} a {}", escape(cache)),
            Self::Tag { tag } => format!("1 {instance:016x} t {}", hex(tag.as_bytes())),
            Self::AllTags => format!("1 {instance:016x} T"),
            Self::Released { cache, key } => format!("1 {instance:016x} r {} {}", escape(cache), hex(key)),
        }
    }

    /// `(sender, message)`; `None` for anything malformed (ignored).
    pub(crate) fn decode(text: &str) -> Option<(u64, Self)> {
        let mut parts = text.split(' ');
        if parts.next()? != "1" {
            return None;
        }
        let sender = u64::from_str_radix(parts.next()?, 16).ok()?;
        let message = match parts.next()? {
            "k" => Self::Key {
                cache: parts.next()?.to_owned(),
                key: unhex(parts.next()?)?,
                at: parts.next()?.parse().ok()?,
            },
            "m" => Self::Keys {
                cache: parts.next()?.to_owned(),
                keys: parts
                    .next()?
                    .split(',')
                    .map(|pair| {
                        let (key, at) = pair.split_once(':')?;
                        Some((unhex(key)?, at.parse().ok()?))
                    })
                    .collect::<Option<_>>()?,
            },
            "a" => Self::All { cache: parts.next()?.to_owned() },
            "t" => Self::Tag { tag: String::from_utf8(unhex(parts.next()?)?).ok()? },
            "T" => Self::AllTags,
            "r" => Self::Released { cache: parts.next()?.to_owned(), key: unhex(parts.next()?)? },
            _ => return None,
        };
        parts.next().is_none().then_some((sender, message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_garbage_is_ignored() {
        for message in [
            Message::Key { cache: "catalog%3A%3Aproduct".into(), key: vec![0, 255, 7], at: 12 },
            Message::Keys { cache: "x y".into(), keys: vec![(vec![1], 5), (vec![2, 3], 6)] },
            Message::All { cache: "x".into() },
            Message::Tag { tag: "product:42 with spaces".into() },
            Message::AllTags,
            Message::Released { cache: "a:b".into(), key: vec![4, 2] },
        ] {
            let decoded = Message::decode(&message.encode(9));
            let expected = match message {
                Message::Key { cache, key, at } => Message::Key { cache: escape(&cache), key, at },
                Message::Keys { cache, keys } => Message::Keys { cache: escape(&cache), keys },
                Message::All { cache } => Message::All { cache: escape(&cache) },
                Message::Released { cache, key } => Message::Released { cache: escape(&cache), key },
                other => other,
            };
            assert_eq!(decoded, Some((9, expected)));
        }
        for garbage in [
            "",
            "2 00 a x",
            "1 zz a x",
            "1 00 k x 0",
            "1 00 k x 00",
            "1 00 a x extra",
            "1 00 q",
            "1 00 T x",
            "1 00 m x 01",
            "1 00 m x 0:z",
        ] {
            assert_eq!(Message::decode(garbage), None, "{garbage:?}");
        }
    }
}
