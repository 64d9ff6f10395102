//! Raw bytes as cbor, read into each versioned type of `fuzz_common::types`.
#![no_main]

use fuzz_common::Format;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| fuzz_common::check_all_raw(Format::Cbor, data));
