// The browser side of `./dev bench`: the real worker wasm in headless Chromium, timing prefill
// and greedy decode with the core's benchmark (the same code `tokenmeter bench` runs natively).
// Prints one JSON object: the result, plus the .wasm sizes raw and gzipped.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { serveDist, launch, DIST } from './harness.mjs';

const [promptTokens = 64, decodeTokens = 32, runs = 3] = process.argv.slice(2).map(Number);
const server = await serveDist();
const browser = await launch();
try {
  const page = await browser.newPage();
  await page.goto(server.url + '__blank.html');
  const result = await page.evaluate(async (req) => {
    const worker = new Worker('./worker-loader.js');
    const send = (m) => worker.postMessage(JSON.stringify(m));
    const t0 = performance.now();
    let loadMs = 0;
    return await new Promise((resolve, reject) => {
      worker.onerror = (e) => reject(new Error(e.message));
      worker.onmessage = (ev) => {
        const m = JSON.parse(ev.data);
        if (m === 'Ready') send({ LoadModel: { url: 'models/SmolLM2-135M-Instruct.Q4_1.gguf' } });
        else if (m.ModelReady) { loadMs = performance.now() - t0; send({ Bench: req }); }
        else if (m.BenchDone) resolve({ ...m.BenchDone, download_and_load_ms: loadMs });
        else if (m.ModelFailed || m.BenchFailed || m.Crashed) reject(new Error(JSON.stringify(m)));
      };
    });
  }, { prompt_tokens: promptTokens, decode_tokens: decodeTokens, runs });
  const size = (f) => {
    const bytes = readFileSync(join(DIST, f));
    return { raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
  };
  const mainWasm = readFileSync(join(DIST, 'index.html'), 'utf8').match(/tokenmeter-web-[0-9a-f]+_bg\.wasm/)[0];
  console.log(JSON.stringify({
    backend: `tokenmeter wasm SIMD128, headless Chromium ${browser.version()}`,
    threads: 1,
    prefill_tokens_per_s: result.prompt_tokens / (result.prefill_ms / 1e3),
    decode_tokens_per_s: result.decode_tokens / (result.decode_ms / 1e3),
    result,
    wasm: { worker: size('worker_bg.wasm'), page: size(mainWasm) },
  }));
} finally {
  await browser.close();
  await server.close();
}
