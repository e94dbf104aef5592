// Starts one tokenmeter worker: wasm-bindgen's glue ("no-modules" build) and its wasm, both named
// by the build the page belongs to (`worker-loader.js?build=<id>`, written by
// scripts/post_build.mjs), so a page never runs another build's worker. Which of the build's
// workers:
// - `&role=tokens`: the light one (tokens-<id>.js: tokens, prices, exercises; no model code);
// - otherwise the full one: worker-relaxed-<id>.js where the browser has relaxed SIMD (the same
//   results, bit for bit, faster), else — or with `&simd=plain` — worker-<id>.js.
// If the wasm cannot start (a broken or partial download), tell the page instead of going silent.
const params = new URLSearchParams(self.location.search);
const build = params.get('build');
// Set by scripts/post_build.mjs: whether this build has the relaxed-SIMD worker.
const RELAXED_BUILT = '__RELAXED_BUILT__';
const fail = (message) => postMessage(JSON.stringify({ Crashed: { message } }));
if (!/^[0-9a-f]{16}$/.test(build ?? '')) {
  fail('the worker was started without a build id');
} else {
  try {
    importScripts('./wasm-features.js');
    const name = params.get('role') === 'tokens' ? 'tokens'
      : RELAXED_BUILT === true && self.tokenmeterRelaxedSimd && params.get('simd') !== 'plain' ? 'worker-relaxed'
        : 'worker';
    importScripts(`./${name}-${build}.js`);
    wasm_bindgen({ module_or_path: `./${name}-${build}_bg.wasm` }).catch((e) => fail('the worker could not start: ' + e));
  } catch (e) {
    fail('the worker could not start: ' + e);
  }
}
