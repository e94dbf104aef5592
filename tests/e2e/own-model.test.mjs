// "Use your own model": a GGUF picked in the page is read by the model worker in the tab (nothing
// uploaded), replaces SmolLM2 in the scores, adds its tokenizer to the columns, and one click
// brings SmolLM2 back. A file tokenmeter cannot run gets a message naming why; the text stays.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { useBrowser, tokenmeterCli, ROOT } from './harness.mjs';

const live = useBrowser();

async function openPage() {
  const context = await live.browser.newContext();
  const page = await context.newPage();
  await page.goto(live.server.url);
  return page;
}
const MODEL_WAIT = 180_000;
const TEXT = 'The capital of France is';
const status = (page) => page.textContent('[data-testid=model-status]');

test('your own model replaces SmolLM2 in the scores and the columns, and SmolLM2 comes back', async () => {
  const page = await openPage();
  await page.fill('#text', TEXT);
  await page.waitForFunction(() => /SmolLM2|Smollm2/i.test(document.querySelector('[data-testid=model-status]')?.textContent ?? ''), null, { timeout: MODEL_WAIT });
  const path = join(ROOT, 'data/test/models/qwen3-Q4_K_M.gguf');
  await page.setInputFiles('[data-testid=own-model]', path);
  await page.waitForFunction(() => /qwen3/.test(document.querySelector('[data-testid=model-status]')?.textContent ?? ''), null, { timeout: MODEL_WAIT });
  assert.match(await status(page), /tokenmeter test qwen3 \(Q4_K \+ Q6_K\) · qwen3 · 14 M parameters/);
  assert.match(await page.textContent('[data-testid=own-model-name]'), /qwen3-Q4_K_M\.gguf/);
  // The scores are the file's: the most likely next token is the CLI's with --model.
  const cli = tokenmeterCli(['next', '--model', path, '--backend', 'cpu', '--prompt', TEXT, '--top', '3']);
  const first = cli.candidates[0];
  await page.waitForFunction((id) => document.querySelector('[data-testid=candidates] tbody tr')?.dataset.id === String(id),
    first.id, { timeout: MODEL_WAIT });
  assert.equal(await page.getAttribute('[data-testid=candidates] tbody tr', 'data-logit'), String(first.logit));
  // Its tokenizer joined the token columns under the file's name.
  await page.waitForFunction(() => [...document.querySelectorAll('.column h3')].some((h) => /qwen3-Q4_K_M\.gguf/.test(h.textContent)));
  // The cost panel's physics can serve this model: its shape from the file, its own tokens.
  await page.click('.cost summary');
  await page.waitForSelector('#phys-model option[value="your model"]', { state: 'attached', timeout: 60_000 });
  await page.selectOption('#phys-model', 'your model');
  await page.waitForFunction(() => /tokenmeter test qwen3/.test(document.querySelector('[data-testid=physics]')?.textContent ?? ''), null, { timeout: 60_000 });
  const read = Number(await page.getAttribute('[data-testid=read]', 'data-params'));
  assert.equal(read, 14419456);
  // One click back: SmolLM2 loads again (from the browser's cache) and the text is kept.
  await page.click('[data-testid=back-to-shipped]');
  await page.waitForFunction(() => /llama · 135 M parameters/.test(document.querySelector('[data-testid=model-status]')?.textContent ?? ''), null, { timeout: MODEL_WAIT });
  assert.equal(await page.inputValue('#text'), TEXT);
  assert.equal(await page.locator('[data-testid=back-to-shipped]').count(), 0);
  // The physics is back on a known open model (the panel answers again once the worker has).
  await page.waitForFunction(() => !/tokenmeter test qwen3/.test(document.querySelector('[data-testid=physics]')?.textContent ?? 'x')
    && document.querySelector('#phys-model')?.value !== 'your model', null, { timeout: 60_000 });
  await page.context().close();
});

test('a model tokenmeter cannot run, dropped on the page, is refused with the reason; the page and the text stay', async () => {
  const page = await openPage();
  await page.fill('#text', TEXT);
  // Dropped on the model line this time (a file picked in a hidden input, then dropped as a user
  // drags it from their file manager).
  await page.evaluate(() => document.body.insertAdjacentHTML('beforeend', '<input type="file" id="drag-source" hidden>'));
  await page.setInputFiles('#drag-source', join(ROOT, 'data/test/models/refused-Q2_K.gguf'));
  await page.evaluate(() => {
    const dt = new DataTransfer();
    dt.items.add(document.querySelector('#drag-source').files[0]);
    document.querySelector('[data-testid=own-model-drop]')
      .dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  });
  await page.waitForSelector('[data-testid=model-error]', { timeout: MODEL_WAIT });
  assert.match(await page.textContent('[data-testid=model-error]'),
    /refused-Q2_K\.gguf cannot be used: .*is Q[23]_K; tokenmeter reads F32, F16, BF16/);
  assert.equal(await page.inputValue('#text'), TEXT);
  // Tokenizing still works, and SmolLM2 is one click away.
  await page.waitForFunction(() => /tokens ·/.test(document.querySelector('[data-tokenizer=smollm2] [data-testid=token-count]')?.textContent ?? ''));
  await page.click('[data-testid=back-to-shipped]');
  await page.waitForFunction(() => /llama · 135 M parameters/.test(document.querySelector('[data-testid=model-status]')?.textContent ?? ''), null, { timeout: MODEL_WAIT });
  await page.context().close();
});
