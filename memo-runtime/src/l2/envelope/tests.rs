//! Round trips and rejections of the entry format.

use super::*;

fn sample() -> Vec<u8> {
    let meta =
        Meta { created_at: 1, fresh_until: 2, stale_until: 3, stale_if_error_until: 4, load_micros: 5, negative: true };
    let key = KeyBytes::of(&7u64).unwrap();
    encode(&meta, &["a", "b:c"], &key, &Some("value".to_owned())).unwrap()
}

#[test]
fn round_trips() {
    let bytes = sample();
    let decoded = decode(&bytes, &Limits::default()).unwrap();
    assert!(decoded.meta.negative);
    assert_eq!(decoded.meta.load_micros, 5);
    assert_eq!(decoded.tags, ["a", "b:c"]);
    assert_eq!(decoded.value_for::<Option<String>>(&KeyBytes::of(&7u64).unwrap()).unwrap().as_deref(), Some("value"));
    assert!(matches!(decoded.value_for::<Option<String>>(&KeyBytes::of(&8u64).unwrap()), Err(DecodeError::OtherKey)));
}

#[test]
fn every_truncation_is_an_error() {
    let bytes = sample();
    for len in 0..bytes.len() {
        assert!(decode(&bytes[..len], &Limits::default()).is_err(), "prefix of {len} bytes");
    }
}

#[test]
fn wrong_version_trailing_bytes_and_limits_are_errors() {
    let mut bytes = sample();
    bytes[2] = 9;
    assert!(matches!(decode(&bytes, &Limits::default()), Err(DecodeError::UnsupportedVersion(9))));
    let mut bytes = sample();
    bytes.push(0);
    assert!(matches!(decode(&bytes, &Limits::default()), Err(DecodeError::Malformed(_))));
    let bytes = sample();
    let tight = Limits { max_bytes: bytes.len() - 1, ..Limits::default() };
    assert!(matches!(decode(&bytes, &tight), Err(DecodeError::TooLarge(_))));
    let one_tag = Limits { max_tags: 1, ..Limits::default() };
    assert!(matches!(decode(&bytes, &one_tag), Err(DecodeError::TooLarge(_))));
}

#[test]
fn signatures_are_checked_when_a_key_is_set() {
    let signer = SigningKey::new(*b"0123456789abcdef0123456789abcdef");
    let key = KeyBytes::of(&7u64).unwrap();
    let signed = encode_with(&Meta::default(), &["t"], &key, &9u32, Some(&signer)).unwrap();
    assert_eq!(decode_verified(&signed, &Limits::default(), &signer).unwrap().value::<u32>().unwrap(), 9);
    assert_eq!(
        decode(&signed, &Limits::default()).unwrap().value::<u32>().unwrap(),
        9,
        "an unkeyed reader skips the MAC"
    );
    let unsigned = encode(&Meta::default(), &["t"], &key, &9u32).unwrap();
    assert!(matches!(decode_verified(&unsigned, &Limits::default(), &signer), Err(DecodeError::BadSignature)));
    let mut tampered = signed.clone();
    tampered[20] ^= 1;
    assert!(matches!(decode_verified(&tampered, &Limits::default(), &signer), Err(DecodeError::BadSignature)));
    for len in 0..signed.len() {
        assert!(decode_verified(&signed[..len], &Limits::default(), &signer).is_err());
    }
}

#[test]
fn a_huge_declared_length_allocates_nothing() {
    let mut bytes = sample();
    let tags_at = HEADER - 2;
    bytes[tags_at..tags_at + 2].copy_from_slice(&u16::MAX.to_le_bytes());
    let no_limit = Limits { max_tags: usize::MAX, ..Limits::default() };
    assert!(matches!(decode(&bytes, &no_limit), Err(DecodeError::Truncated)));
}
