//! The formats' own rules that the targets filter out, shown on plain
//! serde_derive types (no schema_migrate involved).

#[derive(Debug, PartialEq, serde::Deserialize)]
enum Level {
    Low,
    Mid,
}

#[derive(Debug, PartialEq, serde::Deserialize)]
#[serde(tag = "type")]
enum Contact {
    Email { address: String },
}

#[test]
fn msgpack_reads_a_variant_from_its_index() {
    assert_eq!(rmp_serde::from_slice::<Level>(&[0x01]).unwrap(), Level::Mid);
    // {"type": 0, "address": "a"}
    let c = [
        0x82, 0xa4, b't', b'y', b'p', b'e', 0x00, 0xa7, b'a', b'd', b'd', b'r', b'e', b's', b's',
        0xa1, b'a',
    ];
    assert!(rmp_serde::from_slice::<Contact>(&c).is_ok());
    assert!(serde_json::from_str::<Level>("1").is_err());
}

#[test]
fn cbor_does_not_read_a_float_from_an_integer() {
    assert!(ciborium::from_reader::<f64, _>(&[0x00][..]).is_err());
    assert!(serde_json::from_str::<f64>("0").is_ok());
}

#[test]
fn msgpack_reads_a_negative_integer_as_a_huge_u128() {
    // rmp-serde's own bug: -1 (a negative fixint) read as u128 wraps around,
    // where u64 refuses it.
    assert_eq!(rmp_serde::from_slice::<u128>(&[0xff]).unwrap(), u128::MAX);
    assert!(rmp_serde::from_slice::<u64>(&[0xff]).is_err());
}

#[derive(Debug, PartialEq, serde::Deserialize)]
#[serde(tag = "type")]
enum Phone {
    Phone { number: String },
}

#[test]
fn serde_internally_tagged_enum_refuses_a_cbor_bignum_in_an_unknown_key() {
    // {"type": "Phone", "number": "1", "x": 2(h'')}: a bignum (tag 2) is read
    // through `visit_u128`, which serde's buffer of an internally tagged enum
    // does not take, wherever the entry stands.
    let cbor = [
        0xa3, 0x64, b't', b'y', b'p', b'e', 0x65, b'P', b'h', b'o', b'n', b'e', 0x66, b'n', b'u',
        b'm', b'b', b'e', b'r', 0x61, b'1', 0x61, b'x', 0xc2, 0x40,
    ];
    let err = ciborium::from_reader::<Phone, _>(&cbor[..]).unwrap_err();
    assert!(err.to_string().contains("as u128"), "{err}");
    // A `serde_json::Value` takes it (as the integer 0).
    assert!(ciborium::from_reader::<serde_json::Value, _>(&cbor[..]).is_ok());
}

#[derive(Debug, PartialEq, serde::Deserialize)]
#[serde(tag = "type")]
enum Four {
    Mail { address: String },
    Sms { number: String },
    Phone { number: String },
    Fax { number: String },
}

#[test]
fn cbor_internally_tagged_enum_and_an_integer_variant_index() {
    // {"type": 3, "number": "a"}
    let cbor = [
        0xa2, 0x64, b't', b'y', b'p', b'e', 0x03, 0x66, b'n', b'u', b'm', b'b', b'e', b'r', 0x61,
        b'a',
    ];
    // ciborium reads an identifier from text or bytes only.
    assert!(ciborium::from_reader::<Four, _>(&cbor[..]).is_err());
}
