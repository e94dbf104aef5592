// `./dev bench`, per weight format: a model file read by the worker as the page's "Use your own
// model" reads it (wasm SIMD, 1 thread), then the core's benchmark. Prints one JSON object.
//   node bench-file.mjs FILE PROMPT_TOKENS DECODE_TOKENS RUNS
import { serveDist, launch, workerUrl } from './harness.mjs';

const [file, promptTokens = 64, decodeTokens = 32, runs = 3] = process.argv.slice(2);
const server = await serveDist();
const browser = await launch();
try {
  const page = await browser.newPage();
  await page.goto(server.url + '__blank.html');
  await page.evaluate(() => document.body.insertAdjacentHTML('beforeend', '<input type="file" id="own">'));
  await page.setInputFiles('#own', file);
  const result = await page.evaluate(async (req) => new Promise((resolve, reject) => {
    const worker = new Worker(req.worker);
    const send = (m, f) => worker.postMessage(f ? [JSON.stringify(m), f] : JSON.stringify(m));
    let engine = null;
    worker.onerror = (e) => reject(new Error(e.message));
    worker.onmessage = (ev) => {
      const m = JSON.parse(ev.data);
      if (m.ModelFailed || m.BenchFailed) reject(new Error(JSON.stringify(m)));
      else if (m === 'Ready') send({ LoadFile: { backend: 'cpu' } }, document.querySelector('#own').files[0]);
      else if (m.ModelReady) { engine = m.ModelReady.summary; send({ Bench: req.bench }); }
      else if (m.BenchDone) { worker.terminate(); resolve({ ...m.BenchDone.result, engine }); }
    };
  }), { worker: workerUrl() + '&threads=1', bench: { prompt_tokens: Number(promptTokens), decode_tokens: Number(decodeTokens), runs: Number(runs) } });
  console.log(JSON.stringify({
    backend: `tokenmeter ${result.engine.engine.cpu.replace(', 1 thread', '')}, Chromium ${browser.version().split('.')[0]}`,
    formats: result.engine.formats,
    threads: 1,
    prefill_tokens_per_s: result.prompt_tokens / (result.prefill_ms / 1e3),
    decode_tokens_per_s: result.decode_tokens / (result.decode_ms / 1e3),
    result,
  }));
} finally {
  await browser.close();
  await server.close();
}
