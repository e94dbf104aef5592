//! Token IDs as a user types them: parsed, or the first bad entry named.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tokenmeter_core::service::tokens::parse_typed_ids;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok((ids, cut)) = parse_typed_ids(text) {
            assert!(cut.is_none() || !ids.is_empty());
        }
    }
});
