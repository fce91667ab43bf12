#![no_main]
//! `cargo +nightly fuzz run parse`: both exposition parsers on arbitrary bytes.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| promsdk_fuzz::check(data));
