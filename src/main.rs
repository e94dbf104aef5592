//! The page's entry point (built by Trunk into the main `.js` + `.wasm`).

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(tokenmeter_web::app::App);
}
