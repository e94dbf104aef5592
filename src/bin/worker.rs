//! The Web Worker's entry point (built by Trunk as `worker.js` + `worker_bg.wasm`).

fn main() {
    tokenmeter_web::worker::start();
}
