// The browser peer in `./dev bench`: wllama (llama.cpp compiled to wasm; npm `@wllama/wllama`,
// pinned in package.json) on the same GGUF and the same prompt, in the same headless Chromium,
// greedy. Its own wasm and glue are served with the model from a local server that sends
// COOP/COEP (cross-origin isolation: wllama runs threads only then). The timings are llama.cpp's
// own (`timings.prompt_per_second`, `predicted_per_second` of a completion), median of runs.
//
// Usage: node bench-wllama.mjs PROMPT_FILE DECODE_TOKENS RUNS THREADS
//   PROMPT_FILE: the prompt's text (the decoded token IDs tokenmeter's benchmark used).
// Prints one JSON object.
import { createServer } from 'node:http';
import { readFileSync, statSync, createReadStream } from 'node:fs';
import { join, extname } from 'node:path';
import { ROOT, launch } from './harness.mjs';

const [promptFile, decode = '32', runs = '3', threads = '1'] = process.argv.slice(2);
const prompt = readFileSync(promptFile, 'utf8');
const WLLAMA = join(ROOT, 'tests/e2e/node_modules/@wllama/wllama/esm');
const MODEL = 'SmolLM2-135M-Instruct.Q4_1.gguf';
const version = JSON.parse(readFileSync(join(WLLAMA, '..', 'package.json'), 'utf8')).version;

const TYPES = { '.js': 'text/javascript', '.wasm': 'application/wasm', '.html': 'text/html', '.gguf': 'application/octet-stream' };
const PAGE = `<!doctype html><meta charset="utf-8"><title>wllama bench</title>
<script type="module">
import { Wllama } from './wllama/index.js';
window.bench = async ({ prompt, decode, runs, threads }) => {
  const wllama = new Wllama({ default: './wllama/wasm/wllama.wasm' }, { suppressNativeLog: true });
  await wllama.loadModelFromUrl('./models/${MODEL}', { n_threads: threads, n_ctx: 512, n_batch: 512, n_gpu_layers: 0 });
  const results = [];
  for (let i = 0; i < runs; i++) {
    const r = await wllama.createCompletion({ prompt, max_tokens: decode, temperature: 0, cache_prompt: false, stream: false });
    results.push({ ...r.timings, text: r.choices?.[0]?.text });
  }
  return { isolated: crossOriginIsolated, multithread: wllama.isMultithread(), threads: wllama.getNumThreads?.() ?? threads, results };
};
</script>`;

const server = createServer((req, res) => {
  const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
  const file = path === '/' ? null
    : path.startsWith('/wllama/') ? join(WLLAMA, path.slice('/wllama/'.length))
      : path.startsWith('/models/') ? join(ROOT, 'data/models', path.slice('/models/'.length)) : undefined;
  const headers = {
    'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp',
    'Cross-Origin-Resource-Policy': 'same-origin',
  };
  if (file === null) return res.writeHead(200, { ...headers, 'content-type': 'text/html' }).end(PAGE);
  if (!file || file.includes('..')) return res.writeHead(404).end();
  let size;
  try { size = statSync(file).size; } catch { return res.writeHead(404).end(); }
  res.writeHead(200, { ...headers, 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'content-length': size });
  createReadStream(file).pipe(res);
});
await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
const browser = await launch();
try {
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${server.address().port}/`);
  await page.waitForFunction(() => typeof window.bench === 'function');
  const out = await page.evaluate((a) => window.bench(a), { prompt, decode: Number(decode), runs: Number(runs), threads: Number(threads) });
  const median = (k) => out.results.map((r) => r[k]).sort((a, b) => a - b)[Math.floor(out.results.length / 2)];
  console.log(JSON.stringify({
    backend: `wllama ${version} (llama.cpp wasm), Chromium ${browser.version().split('.')[0]}, ${threads} thread${threads === '1' ? '' : 's'}`,
    threads: Number(threads),
    prefill_tokens_per_s: median('prompt_per_second'),
    decode_tokens_per_s: median('predicted_per_second'),
    prompt_tokens: out.results[0].prompt_n,
    decode_tokens: out.results[0].predicted_n,
    ...out,
  }));
} finally {
  await browser.close();
  server.close();
}
