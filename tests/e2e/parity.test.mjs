// Tokenizer parity in wasm, in headless Chromium: the page's own worker encodes the 10,000-string
// corpus with every shipped tokenizer, and each string's IDs must hash to the reference encoder's
// (tests/fixtures/parity, written by `./dev reference` from tiktoken, Hugging Face tokenizers and
// llama.cpp). The same check runs natively in crates/core/tests/parity.rs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { serveDist, launch, fnv1a, ROOT, workerUrl } from './harness.mjs';

const IDS = ['smollm2', 'o200k_base', 'cl100k_base', 'o200k_harmony', 'llama3', 'qwen3', 'qwen2.5',
  'deepseek-v3', 'gemma3', 'mistral-nemo', 'claude-legacy'];

let server;
let browser;
let page;
before(async () => {
  server = await serveDist();
  browser = await launch();
  page = await browser.newPage();
  await page.goto(server.url + '__blank.html');
  await page.evaluate(async (url) => {
    const texts = await (await fetch('./__data/parity/corpus.json')).json();
    const worker = new Worker(url);
    await new Promise((ok) => { worker.onmessage = (ev) => { if (JSON.parse(ev.data) === 'Ready') ok(); }; });
    window.encodeAll = (tokenizer) => new Promise((resolve, reject) => {
      worker.onmessage = (ev) => {
        const m = JSON.parse(ev.data);
        if (m.BatchIds) resolve(m.BatchIds);
        else if (m.BatchFailed) reject(new Error(JSON.stringify(m.BatchFailed.message)));
      };
      worker.postMessage(JSON.stringify({ TokenizeBatch: { tokenizer, texts } }));
    });
  }, workerUrl());
});
after(async () => {
  await browser?.close();
  await server?.close();
});

for (const id of IDS) {
  test(`${id}: 10,000 strings encode in wasm exactly as the reference encoder`, async () => {
    const lines = readFileSync(join(ROOT, `tests/fixtures/parity/${id}.txt`), 'utf8').trim().split('\n');
    const reference = lines.shift();
    const want = lines.map((l) => parseInt(l, 16));
    const got = await page.evaluate((id) => window.encodeAll(id), id);
    assert.equal(got.ids.length, want.length);
    const bad = [];
    got.ids.forEach((ids, i) => { if (fnv1a(ids) !== want[i]) bad.push(i); });
    console.log(`# ${id}: ${want.length - bad.length}/${want.length} identical in wasm (${reference.slice(2)}); `
      + `load ${got.load_ms.toFixed(0)} ms, encode ${got.encode_ms.toFixed(0)} ms`);
    assert.deepEqual(bad.slice(0, 10), [], `${bad.length} strings differ (corpus indices shown)`);
  });
}
