// Starts one tokenmeter worker: wasm-bindgen's glue ("no-modules" build) and its wasm, both named
// by the build the page belongs to (`worker-loader.js?build=<id>`, written by
// scripts/post_build.mjs), so a page never runs another build's worker. If the wasm cannot start
// (a broken or partial download), tell the page instead of going silent.
const build = new URLSearchParams(self.location.search).get('build');
const fail = (message) => postMessage(JSON.stringify({ Crashed: { message } }));
if (!/^[0-9a-f]{16}$/.test(build ?? '')) {
  fail('the worker was started without a build id');
} else {
  try {
    importScripts(`./worker-${build}.js`);
    wasm_bindgen({ module_or_path: `./worker-${build}_bg.wasm` }).catch((e) => fail('the worker could not start: ' + e));
  } catch (e) {
    fail('the worker could not start: ' + e);
  }
}
