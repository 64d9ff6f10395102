//! Structure-aware old-version payloads (see `fuzz_common::structured`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| fuzz_common::structured::check(data));
