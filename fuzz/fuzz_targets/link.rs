//! A shared link's fragment: any bytes as the base64 part, and any bytes as the inflated JSON.
//! Decoding answers (a state, nothing, or an error); a decoded state always sanitises into one
//! whose columns are shipped and unique and whose settings pass the service's checks, and those
//! columns are the ones the tokens worker preloads (`columns_at`), which are shipped whatever the
//! fragment.
#![no_main]

use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use tokenmeter_core::service::limits::TOP;
use tokenmeter_core::service::link;
use tokenmeter_core::service::next::check_sampler;
use tokenmeter_core::tokenizer::registry::SHIPPED;

fuzz_target!(|data: &[u8]| {
    let _ = link::decode(&format!("#s={}", String::from_utf8_lossy(data)));
    let deflated = miniz_oxide::deflate::compress_to_vec(data, 1);
    let fragment = format!(
        "#s={}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(deflated)
    );
    let columns = link::columns_at(&fragment);
    assert!(!columns.is_empty() && columns.iter().all(|c| SHIPPED.iter().any(|t| t.id == c)));
    if let Ok(Some(state)) = link::decode(&fragment) {
        let (s, _) = link::sanitize(state);
        assert_eq!(columns, s.columns);
        assert!(!s.columns.is_empty() && s.columns.len() <= SHIPPED.len());
        assert!(s.columns.iter().all(|c| SHIPPED.iter().any(|t| t.id == c)));
        TOP.check(s.settings.top as f64).expect("top");
        check_sampler(&s.settings.sampler).expect("sampler");
        s.cost.check().expect("cost");
        let (again, notes) = link::sanitize(s.clone());
        assert!(again == s && notes.is_empty());
    }
});
