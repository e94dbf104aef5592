// The browser side of the tokenizer benchmark (`./dev bench`): in one headless Chromium page, the
// light tokens worker (the build that tokenizes the page's columns and a widget's: `release-size`)
// loads each shipped vocabulary and encodes target/bench/mixed-1mb.txt, and gpt-tokenizer
// (JavaScript) encodes the same text with o200k_base. Prints one JSON object.
import { serveDist, launch, workerUrl } from './harness.mjs';

const server = await serveDist();
const browser = await launch();
try {
  const page = await browser.newPage();
  await page.goto(server.url + '__blank.html');
  const result = await page.evaluate(async ([ids, url]) => {
    const res = await fetch('./__bench/mixed-1mb.txt');
    // A missing corpus must stop the benchmark, not time the encoding of an empty string.
    if (!res.ok) throw new Error(`__bench/mixed-1mb.txt: HTTP ${res.status} (./dev bench writes it to target/bench/)`);
    const text = await res.text();
    const worker = new Worker(url);
    await new Promise((ok) => { worker.onmessage = (ev) => { if (JSON.parse(ev.data) === 'Ready') ok(); }; });
    const encode = (tokenizer) => new Promise((resolve, reject) => {
      worker.onmessage = (ev) => {
        const m = JSON.parse(ev.data);
        if (m.BatchIds) resolve(m.BatchIds);
        else if (m.BatchFailed) reject(new Error(JSON.stringify(m.BatchFailed.message)));
      };
      worker.postMessage(JSON.stringify({ TokenizeBatch: { tokenizer, texts: [text] } }));
    });
    const wasm = [];
    for (const id of ids) {
      const r = await encode(id);
      wasm.push({ tokenizer: id, load_ms: r.load_ms, encode_ms: r.encode_ms, tokens: r.ids[0].length });
    }
    // gpt-tokenizer in the same page (main thread), warmed up once, then timed.
    const js = await import('./__node_modules/gpt-tokenizer/esm/encoding/o200k_base.js');
    js.encode('warm up', { allowedSpecial: 'all' });
    const t0 = performance.now();
    const jsIds = js.encode(text, { allowedSpecial: 'all' });
    const jsMs = performance.now() - t0;
    return { bytes: new TextEncoder().encode(text).length, wasm, js: { encode_ms: jsMs, tokens: jsIds.length } };
  }, [['smollm2', 'o200k_base', 'cl100k_base', 'o200k_harmony', 'llama3', 'qwen3', 'qwen2.5', 'deepseek-v3',
    'gemma3', 'mistral-nemo', 'claude-legacy'], `${workerUrl()}&role=tokens`]);
  console.log(JSON.stringify(result));
} finally {
  await browser.close();
  await server.close();
}
