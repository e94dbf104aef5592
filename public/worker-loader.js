// Starts one tokenmeter worker: wasm-bindgen's glue (worker.js, "no-modules" build) and its wasm.
// If the wasm cannot start (a broken or partial download), tell the page instead of going silent.
importScripts('./worker.js');
wasm_bindgen({ module_or_path: './worker_bg.wasm' }).catch((e) => {
  postMessage(JSON.stringify({ Crashed: { message: 'the worker could not start: ' + e } }));
});
