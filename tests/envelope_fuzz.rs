//! The L2 envelope decoder against arbitrary and mutated bytes: it returns an error or a
//! well-formed envelope, never panics, and never allocates beyond its input.

use memo_runtime::l2::envelope::{self, Limits, Meta};
use memo_runtime::l2::keys::KeyBytes;
use proptest::prelude::*;

fn valid(meta: Meta, tags: &[String], key: u64, value: &Vec<String>) -> Vec<u8> {
    envelope::encode(&meta, tags, &KeyBytes::of(&key).unwrap(), value).unwrap()
}

fn meta() -> impl Strategy<Value = Meta> {
    (any::<u64>(), any::<u64>(), any::<u64>(), any::<u64>(), any::<u32>(), any::<bool>()).prop_map(
        |(created_at, fresh_until, stale_until, stale_if_error_until, load_micros, negative)| Meta {
            created_at,
            fresh_until,
            stale_until,
            stale_if_error_until,
            load_micros,
            negative,
        },
    )
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = envelope::decode(&bytes, &Limits::default()).map(|d| d.value::<Vec<String>>());
    }

    #[test]
    fn envelopes_round_trip(
        meta in meta(),
        tags in proptest::collection::vec(".{0,20}", 0..5),
        key in any::<u64>(),
        value in proptest::collection::vec(".{0,30}", 0..5),
    ) {
        let bytes = valid(meta, &tags, key, &value);
        let decoded = envelope::decode(&bytes, &Limits::default()).unwrap();
        prop_assert_eq!(decoded.meta, meta);
        prop_assert_eq!(&decoded.tags, &tags.iter().map(String::as_str).collect::<Vec<_>>());
        prop_assert_eq!(decoded.value_for::<Vec<String>>(&KeyBytes::of(&key).unwrap()).unwrap(), value);
    }

    #[test]
    fn mutated_envelopes_never_panic(
        meta in meta(),
        value in proptest::collection::vec(".{0,30}", 0..5),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = valid(meta, &["product:1".to_owned()], 1, &value);
        for (at, byte) in flips {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        let keep = cut.index(bytes.len() + 1);
        bytes.truncate(keep);
        let _ = envelope::decode(&bytes, &Limits::default()).map(|d| d.value::<Vec<String>>());
    }
}
