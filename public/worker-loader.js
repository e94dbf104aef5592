// Starts one tokenmeter worker: wasm-bindgen's glue ("no-modules" build) and its wasm, both named
// by the build the page belongs to (`worker-loader.js?build=<id>`, written by
// scripts/post_build.mjs), so a page never runs another build's worker. Which of the build's
// workers:
// - `&role=tokens`: the light one (tokens-<id>.js: tokens, prices, exercises; no model code);
// - `&role=thread`: a helper thread of the threaded one (src/worker/pool.rs sends it the module
//   and the shared memory, then tells it to serve the forward pass's pool);
// - otherwise the full one, the fastest this browser can run, all giving the same bits:
//   worker-threads-<id>.js (relaxed SIMD + threads on shared memory) where the page is
//   cross-origin isolated (COOP/COEP headers; see README) and has relaxed SIMD and more than one
//   core (or `&threads=N`, N > 1; `&threads=1` keeps one); else worker-relaxed-<id>.js where the browser has relaxed SIMD;
//   else — or with `&simd=plain` — worker-<id>.js.
// If the wasm cannot start (a broken or partial download), tell the page instead of going silent.
const params = new URLSearchParams(self.location.search);
const build = params.get('build');
// Set by scripts/post_build.mjs: whether this build has the relaxed-SIMD and threaded workers.
const RELAXED_BUILT = '__RELAXED_BUILT__';
const THREADS_BUILT = '__THREADS_BUILT__';
const fail = (message) => postMessage(JSON.stringify({ Crashed: { message } }));
if (!/^[0-9a-f]{16}$/.test(build ?? '')) {
  fail('the worker was started without a build id');
} else if (params.get('role') === 'thread') {
  // A helper: instantiate the module it is sent on the memory it is sent, say so, then serve the
  // forward pass's thread pool when told to (forever; src/worker/pool.rs).
  try {
    importScripts(`./worker-threads-${build}.js`);
    self.onmessage = (first) => {
      const [module, memory] = first.data;
      try {
        wasm_bindgen.initSync({ module, memory });
      } catch (e) {
        postMessage('the helper could not instantiate the module: ' + e);
        return;
      }
      self.onmessage = () => {
        try {
          wasm_bindgen.pool_thread();
        } catch (e) {
          // This helper's instance trapped inside a band, which will never finish: tell the
          // pool, whose caller would wait for it forever (src/worker/pool.rs).
          try {
            wasm_bindgen.pool_thread_lost();
          } catch {}
          throw e;
        }
      };
      postMessage('ready');
    };
  } catch (e) {
    postMessage('the helper could not start: ' + e);
  }
} else {
  // What the page sends before the wasm listens: `listen` in src/worker/mod.rs takes these
  // first, in order (public/early-tokens.js writes to the tokens worker as soon as it starts it).
  self.tokenmeterEarlyMessages = [];
  self.onmessage = (ev) => self.tokenmeterEarlyMessages.push(ev);
  try {
    // The light worker has one build: no feature test (one request fewer before a widget's wasm).
    const tokens = params.get('role') === 'tokens';
    if (!tokens) importScripts('./wasm-features.js');
    const relaxed = !tokens && RELAXED_BUILT === true && self.tokenmeterRelaxedSimd
      && params.get('simd') !== 'plain';
    // `&threads=N` asks for N threads (1: the one-thread build); else one per core.
    const threads = Number(params.get('threads')) || (navigator.hardwareConcurrency ?? 1);
    const threaded = THREADS_BUILT === true && relaxed && self.crossOriginIsolated === true
      && typeof SharedArrayBuffer === 'function' && threads > 1;
    const name = tokens ? 'tokens' : threaded ? 'worker-threads' : relaxed ? 'worker-relaxed' : 'worker';
    importScripts(`./${name}-${build}.js`);
    wasm_bindgen({ module_or_path: `./${name}-${build}_bg.wasm` }).catch((e) => fail('the worker could not start: ' + e));
  } catch (e) {
    fail('the worker could not start: ' + e);
  }
}
