// The tokenizer lab as a user meets it: several real tokenizers side by side, each equal to the
// native CLI; raw bytes of split characters; the same characters highlighted across columns;
// token IDs decoded back into text in every vocabulary.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { useBrowser, tokenmeterCli, ROOT } from './harness.mjs';

const live = useBrowser();

const TEXT = 'El niño comió 你好 👋🏽 in 2024!';

async function openPage() {
  const page = await (await live.browser.newContext()).newPage();
  await page.goto(live.server.url);
  return page;
}

async function pick(page, id) {
  await page.click('details.picker summary');
  await page.check(`[data-testid=pick-${id}]`);
  await page.click('details.picker summary');
}

/** The IDs shown in a column, once it has its tokens. */
async function columnIds(page, id, n) {
  const sel = `[data-tokenizer="${id}"] [data-testid=tokens] .tok`;
  await page.waitForFunction(([sel, n]) => document.querySelectorAll(sel).length === n, [sel, n], { timeout: 60_000 });
  return page.$$eval(sel, (els) => els.map((e) => Number(e.dataset.id)));
}

test('side by side, every column equals the native tokenizer', async () => {
  const page = await openPage();
  await page.fill('#text', TEXT);
  await pick(page, 'gemma3');
  await pick(page, 'cl100k_base');
  for (const id of ['smollm2', 'o200k_base', 'cl100k_base', 'llama3', 'gemma3']) {
    const native = tokenmeterCli(['tokenize', '--tokenizer', id, '--text', TEXT]);
    assert.deepEqual(await columnIds(page, id, native.count), native.ids, id);
    const summary = await page.textContent(`[data-tokenizer="${id}"] [data-testid=token-count]`);
    assert.match(summary, new RegExp(`^${native.count} tokens · `), id);
  }
  // Columns follow the registry's order, whatever order they were picked in.
  const order = await page.$$eval('.column', (els) => els.map((e) => e.dataset.tokenizer));
  assert.deepEqual(order, ['smollm2', 'o200k_base', 'cl100k_base', 'llama3', 'gemma3']);
  await page.context().close();
});

/** A SentencePiece Unigram tokenizer.json (T5 style): a model type the light tokens worker's
 * own pipeline does not read, so the page moves its tokenizer role to the full worker. */
function unigramFile() {
  const pieces = ['<unk>', '▁', '▁El', '▁ni', 'ño', '▁com', 'ió', '▁in', '▁2', '0', '2', '4', '!', 'E', 'l', 'n', 'i', 'ñ', 'o', 'c', 'm', 'ó'];
  const json = {
    version: '1.0',
    added_tokens: [{ id: 0, content: '<unk>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
    normalizer: null,
    pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true },
    post_processor: null,
    decoder: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true },
    model: { type: 'Unigram', unk_id: 0, vocab: pieces.map((p, i) => [p, i === 0 ? 0 : -1 - p.length / 10 - i / 100]), byte_fallback: false },
  };
  const path = join(mkdtempSync(join(tmpdir(), 'tokenmeter-')), 'unigram.json');
  writeFileSync(path, JSON.stringify(json));
  return path;
}

/** A page with TEXT and Qwen3's tokenizer.json added as the user's first file (`file:1`),
 * checked against the CLI; returns the page and the CLI's answer. */
async function withQwenFile() {
  const page = await openPage();
  await page.fill('#text', TEXT);
  await page.click('details.picker summary');
  // A tokenizer.json (Qwen3's, as if downloaded from its model page).
  await page.setInputFiles('[data-testid=byo-file]', join(ROOT, 'data/tokenizers/qwen3.json'));
  const qwen = tokenmeterCli(['tokenize', '--tokenizer', 'qwen3', '--text', TEXT]);
  assert.deepEqual(await columnIds(page, 'file:1', qwen.count), qwen.ids);
  return { page, qwen };
}

test('a tokenizer.json only the full tokenizers library reads still joins the comparison, and earlier files stay', async () => {
  const { page, qwen } = await withQwenFile();
  const path = unigramFile();
  await page.setInputFiles('[data-testid=byo-file]', path);
  const unigram = tokenmeterCli(['tokenize', '--tokenizer-file', path, '--text', TEXT]);
  assert.ok(unigram.ids.includes(0) && unigram.count > 5, 'pieces and unknown characters');
  assert.deepEqual(await columnIds(page, 'file:2', unigram.count), unigram.ids);
  // The first file was handed to the new worker too, and the text edits still reach both.
  assert.deepEqual(await columnIds(page, 'file:1', qwen.count), qwen.ids);
  await page.fill('#text', 'El niño');
  const short = tokenmeterCli(['tokenize', '--tokenizer-file', path, '--text', 'El niño']);
  assert.deepEqual(await columnIds(page, 'file:2', short.count), short.ids);
  assert.equal(await page.locator('[data-testid=byo-error]').count(), 0);
  await page.context().close();
});

test('an edit that keeps the length, the counts and the IDs\' digits still redraws every column', async () => {
  const page = await openPage();
  await page.fill('#text', 'cat');
  const ids = ['smollm2', 'o200k_base', 'llama3'];
  for (const id of ids) await page.waitForSelector(`[data-tokenizer="${id}"] [data-testid=tokens] .tok`, { timeout: 60_000 });
  await page.fill('#text', 'bat');
  for (const id of ids) {
    const native = tokenmeterCli(['tokenize', '--tokenizer', id, '--text', 'bat']);
    const sel = `[data-tokenizer="${id}"] [data-testid=tokens] .tok`;
    await page.waitForFunction(([sel, want]) => JSON.stringify([...document.querySelectorAll(sel)].map((e) => Number(e.dataset.id))) === want,
      [sel, JSON.stringify(native.ids)], { timeout: 30_000 });
  }
  await page.context().close();
});

test('a token holding part of a character shows those raw bytes', async () => {
  const page = await openPage();
  await page.fill('#text', TEXT);
  const native = tokenmeterCli(['tokenize', '--tokenizer', 'llama3', '--text', TEXT]);
  await columnIds(page, 'llama3', native.count);
  const shown = await page.$$eval('[data-tokenizer=llama3] [data-testid=tokens] .tok .text',
    (els) => els.map((e) => e.textContent));
  // The CLI shows a token as text with stray bytes in hex ("·<F0 9F>"); the page draws the same
  // pieces: whitespace made visible, bytes as hex without the brackets.
  const expected = native.tokens.map((t) => t.split(/(<[0-9A-F ]+>)/).map((part) =>
    /^<[0-9A-F ]+>$/.test(part) ? part.slice(1, -1)
      : part.replace(/ /g, '·').replace(/\t/g, '→').replace(/\n/g, '↵')).join(''));
  assert.deepEqual(shown, expected);
  const partial = native.tokens.filter((t) => /<[0-9A-F ]+>/.test(t)).length;
  assert.ok(partial >= 2, 'the emoji is split across tokens in llama3');
  assert.ok(await page.locator('[data-tokenizer=llama3] .bytes').count() >= 2);
  await page.context().close();
});

test('hovering a token highlights the same characters in every column', async () => {
  const page = await openPage();
  await page.fill('#text', TEXT);
  await columnIds(page, 'o200k_base', tokenmeterCli(['tokenize', '--tokenizer', 'o200k_base', '--text', TEXT]).count);
  await columnIds(page, 'smollm2', tokenmeterCli(['tokenize', '--text', TEXT]).count);
  // " niño" in o200k is one token; SmolLM2 cuts it in several, all of which light up.
  const nino = page.locator('[data-tokenizer=o200k_base] .tok', { hasText: 'niño' }).first();
  await nino.hover();
  const lit = await page.$$eval('[data-tokenizer=smollm2] .tok.lit .text', (els) => els.map((e) => e.textContent).join(''));
  assert.equal(lit.replace(/·/g, ' '), ' niño');
  assert.equal(await page.locator('[data-tokenizer=o200k_base] .tok.lit').count(), 1);
  await page.context().close();
});

test('decode mode spells the same IDs in every vocabulary and marks IDs that do not exist', async () => {
  const page = await openPage();
  await page.check('[data-testid=mode-decode]');
  await page.fill('[data-testid=ids-input]', '[9906, 1917, 0, 99999999]');
  for (const id of ['llama3', 'o200k_base', 'smollm2']) {
    const native = tokenmeterCli(['decode', '--tokenizer', id, '--ids', '[9906, 1917, 0, 99999999]']);
    const sel = `[data-tokenizer="${id}"] [data-testid=token-count]`;
    await page.waitForFunction((sel) => /IDs/.test(document.querySelector(sel)?.textContent ?? ''), sel);
    const summary = await page.textContent(sel);
    assert.ok(summary.includes(native.text.replace(/ /g, '·')), `${id}: ${summary} vs ${native.text}`);
    assert.match(summary, /1 not in this vocabulary/);
    assert.equal(await page.locator(`[data-tokenizer="${id}"] .tok.invalid`).count(), 1);
  }
  // A typo gets a clear message; the text is kept.
  await page.fill('[data-testid=ids-input]', '1, x');
  await page.waitForSelector('text=/“x” is not a token ID/');
  await page.check('[data-testid=mode-encode]');
  await page.waitForFunction(() => /tokens ·/.test(document.querySelector('[data-tokenizer=smollm2] [data-testid=token-count]')?.textContent ?? ''));
  assert.equal(await page.inputValue('#text'), 'The capital of France is');
  await page.context().close();
});

test('bring your own tokenizer.json or GGUF: it joins the comparison; a broken file gets a clear error', async () => {
  const { page } = await withQwenFile();
  assert.match(await page.textContent('[data-tokenizer="file:1"] h3'), /qwen3\.json \(your file\)/);
  // A GGUF: its tokenizer comes from the metadata (SmolLM2's, metadata only).
  await page.setInputFiles('[data-testid=byo-file]', join(ROOT, 'data/test/smollm2.vocab.gguf'));
  const smol = tokenmeterCli(['tokenize', '--text', TEXT]);
  assert.deepEqual(await columnIds(page, 'file:2', smol.count), smol.ids);
  // Not a tokenizer: a message naming the file and the problem; everything else keeps working.
  await page.setInputFiles('[data-testid=byo-file]', { name: 'notes.json', mimeType: 'application/json', buffer: Buffer.from('{"hello": ') });
  await page.waitForSelector('[data-testid=byo-error]');
  assert.match(await page.textContent('[data-testid=byo-error]'), /^notes\.json is not a tokenizer\.json: it is not valid JSON/);
  await page.setInputFiles('[data-testid=byo-file]', { name: 'weird.gguf', mimeType: 'application/octet-stream', buffer: Buffer.from('GGUF\u0003\u0000\u0000\u0000garbage') });
  await page.waitForFunction(() => /^weird\.gguf: not a valid GGUF/.test(document.querySelector('[data-testid=byo-error]')?.textContent ?? ''));
  assert.equal(await page.locator('.column').count(), 5);
  assert.equal(await page.inputValue('#text'), TEXT);
  await page.context().close();
});
