// The page as a user meets it: tokens as you type, the real model's next-token scores, and
// failures that leave the page usable and the text intact.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBrowser, recordRequests, fixture, tokenmeterCli } from './harness.mjs';

const live = useBrowser();

async function openPage() {
  const context = await live.browser.newContext();
  const urls = recordRequests(context);
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(live.server.url);
  return { context, page, urls, errors };
}

async function typeText(page, text) {
  await page.fill('#text', text);
}

/** The candidate rows of the next-token table, once shown. */
async function candidates(page) {
  const rows = page.locator('[data-testid=candidates] tbody tr');
  await rows.first().waitFor({ timeout: 120_000 });
  return rows.evaluateAll((trs) => trs.map((tr) => ({
    id: Number(tr.dataset.id),
    logit: Number(tr.dataset.logit),
    prob: Number(tr.dataset.prob),
    token: tr.querySelector('code').textContent,
  })));
}

test('types a sentence and sees " Paris" as the most likely next token, from its own origin only', async () => {
  const { context, page, urls, errors } = await openPage();
  await typeText(page, 'The capital of France is');
  // Tokens with their IDs, as llama.cpp splits the prompt.
  const english = fixture('smollm2_logits.json').cases.find((c) => c.name === 'english');
  const tokenIds = page.locator('[data-tokenizer=smollm2] [data-testid=tokens] .tok');
  await assert.doesNotReject(() => page.waitForFunction(
    (n) => document.querySelectorAll('[data-tokenizer=smollm2] [data-testid=tokens] .tok').length === n, english.ids.length));
  const ids = await tokenIds.evaluateAll((els) => els.map((e) => Number(e.dataset.id)));
  assert.deepEqual(ids, english.ids);
  await page.waitForSelector('[data-testid=model-status]', { timeout: 120_000 });

  const rows = await candidates(page);
  assert.equal(rows.length, 10);
  assert.equal(rows[0].token, '·Paris', 'the page shows the leading space as ·');
  assert.equal(rows[0].id, 7042);
  // The scores are llama.cpp's within the tolerance justified in crates/core/tests/reference.rs.
  for (const row of rows) {
    const ref = english.top.find((t) => t.id === row.id);
    assert.ok(ref, `candidate ${row.id} is in llama.cpp's top-40`);
    assert.ok(Math.abs(row.logit - ref.logit) <= 1.25, `logit of ${row.id}: ${row.logit} vs ${ref.logit}`);
  }
  assert.ok(rows[0].prob > 0.5 && rows[0].prob < 1);
  // The wasm build computes exactly what the native CLI computes: same IDs, same f32 logits.
  const native = tokenmeterCli(['next', '--backend', 'cpu', '--prompt', 'The capital of France is', '--top', '10']);
  // (Both are f32: compare them as f32, whatever decimal each side printed.)
  assert.deepEqual(
    rows.map((r) => [r.id, Math.fround(r.logit)]),
    native.candidates.map((c) => [c.id, Math.fround(c.logit)]),
  );

  const origin = new URL(live.server.url).origin;
  const foreign = urls.filter((u) => !u.startsWith(origin) && !u.startsWith('data:') && !u.startsWith('blob:'));
  assert.deepEqual(foreign, [], 'the page requested nothing outside its own origin');
  assert.deepEqual(errors, []);
  await context.close();
});

test('empty text and a 1 MB paste give clear messages and keep the text', async () => {
  const { context, page } = await openPage();
  await page.waitForSelector('[data-testid=model-status]', { timeout: 120_000 });
  await typeText(page, '');
  await page.waitForSelector('text=Type some text to see what comes next.');
  await page.waitForFunction(() => document.querySelector('[data-tokenizer=smollm2] [data-testid=token-count]')?.textContent.startsWith('0 tokens'));

  const big = 'Un token es la unidad mínima de texto. '.repeat(26_000); // ≈ 1 MB
  await typeText(page, big);
  await page.waitForFunction(() => /^[0-9,]{6,} tokens/.test(document.querySelector('[data-tokenizer=smollm2] [data-testid=token-count]')?.textContent ?? ''), null, { timeout: 60_000 });
  await page.waitForSelector('text=/reads at most 8192/', { timeout: 60_000 });
  assert.equal((await page.inputValue('#text')).length, big.length, 'the text is kept');
  assert.ok(await page.locator('[data-tokenizer=smollm2] .truncated').isVisible());
  assert.equal(await page.locator('.truncated').count(), 3, 'every column says it shows only the first tokens');

  // Still usable: a short text gets scores again.
  await typeText(page, 'The capital of France is');
  const rows = await candidates(page);
  assert.equal(rows[0].id, 7042);
  await context.close();
});

for (const fault of ['404', 'abort', 'truncate', 'garbage', 'tampered']) {
  test(`a failed model download (${fault}) says what happened, keeps tokenizing, and can be retried`, async () => {
    live.server.faults.model = fault;
    const { context, page } = await openPage();
    await typeText(page, 'Hola, mundo');
    const error = page.locator('[data-testid=model-error]');
    await error.waitFor({ timeout: 60_000 });
    const message = await error.textContent();
    const expected = {
      // A short or damaged body fails the model's pinned sha256 before it is parsed or cached.
      '404': /HTTP 404/, abort: /download failed/, truncate: /not the expected file \(sha256 [0-9a-f]{64}, expected [0-9a-f]{64}\)/,
      garbage: /not the expected file/,
      // One byte changed: still a loadable GGUF, refused all the same (and never cached).
      tampered: /not the expected file/,
    }[fault];
    assert.match(message, expected);
    // Tokenizing does not need the model.
    await page.waitForFunction(() => document.querySelector('[data-tokenizer=smollm2] [data-testid=token-count]')?.textContent.startsWith('5 tokens'));
    assert.equal(await page.inputValue('#text'), 'Hola, mundo');

    delete live.server.faults.model;
    await page.click('text=Retry loading the model');
    await page.waitForSelector('[data-testid=model-status]', { timeout: 120_000 });
    const rows = await candidates(page);
    assert.ok(rows.length === 10);
    assert.equal(await page.inputValue('#text'), 'Hola, mundo');
    await context.close();
  });
}

test('a download in progress shows its speed and can be cancelled, then retried', async () => {
  live.server.faults.model = 'slow';
  const { context, page } = await openPage();
  try {
    await typeText(page, 'Hola, mundo');
    await page.waitForSelector('text=/Downloading the model: [0-9.]+ of 98.4 MB at [0-9.]+ MB\\/s/', { timeout: 30_000 });
    // Every column counted first: columns still filling in move the button, and a click whose
    // press and release land on different elements is no click (seen once: the download ran on).
    await page.waitForFunction(() => {
      const columns = [...document.querySelectorAll('[data-tokenizer]')];
      return columns.length > 1 && columns.every((c) => /^\d+ tokens?/.test(c.querySelector('[data-testid=token-count]')?.textContent ?? ''));
    });
    await page.click('[data-testid=cancel-download]');
    await page.waitForSelector('text=/Model download cancelled/');
    await page.waitForFunction(() => document.querySelector('[data-tokenizer=smollm2] [data-testid=token-count]')?.textContent.startsWith('5 tokens'));
    delete live.server.faults.model;
    await page.click('text=Retry loading the model');
    await candidates(page);
    assert.equal(await page.inputValue('#text'), 'Hola, mundo');
  } finally {
    delete live.server.faults.model;
    await context.close();
  }
});

test('a worker that cannot start is reported, and the text stays', async () => {
  live.server.faults.wasm = 'corrupt';
  try {
    const { context, page } = await openPage();
    await typeText(page, 'still here');
    await page.locator('[data-testid=model-error]').waitFor({ timeout: 60_000 });
    assert.match(await page.locator('[data-testid=model-error]').textContent(), /could not start/);
    await page.waitForSelector('text=/the tokenizer stopped/');
    assert.equal(await page.inputValue('#text'), 'still here');
    await context.close();
  } finally {
    delete live.server.faults.wasm;
  }
});
