// The browser side of `./dev bench`: the real worker wasm in headless Chromium, timing prefill
// and greedy decode with the core's benchmark (the same code `tokenmeter bench` runs natively).
// Prints one JSON object: the result, plus the .wasm sizes raw and gzipped.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { serveDist, launch, DIST, workerUrl } from './harness.mjs';

const args = process.argv.slice(2);
const [promptTokens = 64, decodeTokens = 32, runs = 3] = args.slice(0, 3).map(Number);
// 'cpu' (wasm SIMD) or 'webgpu' (our WGSL kernels; here on SwiftShader unless a GPU is present).
const backend = args[3] ?? 'cpu';
// Which CPU build: 'relaxed' (the default: relaxed SIMD, one thread), 'plain' (without relaxed
// SIMD), or 'threads' (the threaded build, which the loader picks on this cross-origin isolated
// server; `threads=N` for another count than the cores').
const build = args[4] ?? 'relaxed';
const query = { relaxed: '&threads=1', plain: '&simd=plain', threads: '' }[build.split('=')[0]]
  + (build.startsWith('threads=') ? `&${build}` : '');
const server = await serveDist();
const browser = await launch(backend === 'webgpu' ? ['--enable-unsafe-webgpu'] : []);
try {
  const page = await browser.newPage();
  // The model worker says which form of the byte products it timed fastest on this machine.
  let forms;
  page.on('worker', (w) => w.on('console', (m) => {
    forms ??= m.text().match(/^tokenmeter: byte products in the fastest exact form: (.*)$/)?.[1];
  }));
  await page.goto(server.url + '__blank.html');
  // 1. Download and load the model in a worker, run the core's benchmark, wait until the model
  //    is in Cache Storage. 2. Warm start: a fresh worker, model from the cache, to first scores.
  const result = await page.evaluate(async (req) => {
    const MODEL = 'models/SmolLM2-135M-Instruct.Q4_1.gguf';
    const start = (onMessage) => {
      const worker = new Worker(req.worker);
      const send = (m) => worker.postMessage(JSON.stringify(m));
      return new Promise((resolve, reject) => {
        worker.onerror = (e) => reject(new Error(e.message));
        worker.onmessage = (ev) => {
          const m = JSON.parse(ev.data);
          if (m.ModelFailed || m.BenchFailed || m.Crashed || m.NextFailed) reject(new Error(JSON.stringify(m)));
          else onMessage(m, send, (v) => { worker.terminate(); resolve(v); });
        };
      });
    };
    const t0 = performance.now();
    let loadMs = 0;
    let bench = null;
    let cached = false;
    let engine = null;
    const cold = await start((m, send, done) => {
      if (m === 'Ready') send({ LoadModel: { url: MODEL, backend: req.backend } });
      else if (m.ModelReady) {
        loadMs = performance.now() - t0;
        engine = m.ModelReady.summary.engine;
        send({ Bench: req.bench });
      }
      else if (m.BenchDone) bench = m.BenchDone.result;
      else if (m === 'ModelCached') cached = true;
      if (bench && cached) done(bench);
    });
    const t1 = performance.now();
    const warmMs = await start((m, send, done) => {
      if (m === 'Ready') send({ LoadModel: { url: MODEL, backend: req.backend } });
      else if (m.ModelReady) {
        if (!m.ModelReady.from_cache) throw new Error('warm start did not use the cache');
        send({ Next: { seq: 1, req: { text: 'The capital of France is', chat: false, continuation: [], top: 10,
          sampler: { temperature: 1, top_k: 0, top_p: 1, seed: 0 }, search: '', surprisal: false } } });
      } else if (m.Scores) done(performance.now() - t1);
    });
    return { ...cold, engine, download_and_load_ms: loadMs, warm_start_to_first_scores_ms: warmMs };
  }, { backend, worker: workerUrl() + query, bench: { prompt_tokens: promptTokens, decode_tokens: decodeTokens, runs } });
  if (result.engine.kind !== backend) throw new Error(`asked for ${backend}, got ${JSON.stringify(result.engine)}`);
  if (backend === 'cpu' && build.startsWith('threads') && !(result.engine.threads > 1)) {
    throw new Error(`asked for the threaded build, got ${JSON.stringify(result.engine)}`);
  }
  const size = (f) => {
    const bytes = readFileSync(join(DIST, f));
    return { raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
  };
  const mainWasm = readFileSync(join(DIST, 'index.html'), 'utf8').match(/tokenmeter-web-[0-9a-f]+_bg\.wasm/)[0];
  console.log(JSON.stringify({
    backend: backend === 'webgpu'
      ? `tokenmeter WGSL on WebGPU (${result.engine.adapter?.name}), Chromium ${browser.version()}`
      : `tokenmeter ${result.engine.cpu.replace(/, \d+ threads?$/, '')}, Chromium ${browser.version().split('.')[0]}`,
    threads: result.engine.threads ?? 1,
    prefill_tokens_per_s: result.prompt_tokens / (result.prefill_ms / 1e3),
    decode_tokens_per_s: result.decode_tokens / (result.decode_ms / 1e3),
    scoring_ms: result.scoring_ms,
    dot_forms: forms ?? null,
    result,
    wasm: {
      worker: size(readdirSync(DIST).find((f) => /^worker-[0-9a-f]{16}_bg\.wasm$/.test(f))),
      worker_relaxed: size(readdirSync(DIST).find((f) => /^worker-relaxed-[0-9a-f]{16}_bg\.wasm$/.test(f))),
      worker_threads: size(readdirSync(DIST).find((f) => /^worker-threads-[0-9a-f]{16}_bg\.wasm$/.test(f))),
      tokens: size(readdirSync(DIST).find((f) => /^tokens-[0-9a-f]{16}_bg\.wasm$/.test(f))),
      page: size(mainWasm),
    },
  }));
} finally {
  await browser.close();
  await server.close();
}
