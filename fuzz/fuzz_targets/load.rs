//! Arbitrary bytes → the config loader: it must return Ok or Err, never panic or hang.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = kubepool::config::parse(Path::new("fuzz.yaml"), text);
    }
});
