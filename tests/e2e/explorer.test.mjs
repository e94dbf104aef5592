// The model explorer as a user drives it: stepping, forcing, undo, run/stop, the surprisal
// heatmap, token search, chat mode and the cached model — each checked against the native CLI,
// which must produce exactly the same tokens (the forward pass is deterministic across targets).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBrowser, tokenmeterCli } from './harness.mjs';

const live = useBrowser();

const PROMPT = 'The capital of France is';
const MODEL_WAIT = { timeout: 120_000 };

async function openPage(context) {
  const page = await (context ?? (await live.browser.newContext())).newPage();
  await page.goto(live.server.url);
  return page;
}

async function setRange(page, selector, value) {
  await page.$eval(selector, (el, v) => {
    el.value = String(v);
    el.dispatchEvent(new Event('input', { bubbles: true }));
  }, value);
}

async function setNumber(page, selector, value) {
  await page.fill(selector, String(value));
  await page.$eval(selector, (el) => el.dispatchEvent(new Event('change', { bubbles: true })));
}

/** IDs of the tokens generated after the text. */
const continuation = (page) =>
  page.$$eval('[data-testid=continuation] .gen', (els) => els.map((e) => Number(e.dataset.id)));

/** Waits until the panel shows scores for a context with `n` generated tokens. */
async function scoresFor(page, n) {
  await page.waitForFunction((n) => {
    const gens = document.querySelectorAll('[data-testid=continuation] .gen').length;
    const drawn = document.querySelector('[data-testid=drawn]');
    const fresh = document.querySelector('.scores')?.dataset.stale === 'false';
    return gens === n && drawn && fresh && document.querySelector('[data-testid=step]').getAttribute('aria-disabled') === 'false';
  }, n, MODEL_WAIT);
}

async function ready(page, text = PROMPT) {
  await page.fill('#text', text);
  await page.waitForSelector('[data-testid=model-status]', MODEL_WAIT);
  await scoresFor(page, 0);
}

test('greedy steps give the native tokens; a clicked candidate is forced; undo takes it back', async () => {
  const page = await openPage();
  await ready(page);
  await setRange(page, '#temperature', 0);
  await page.waitForSelector('text=0 (greedy)');
  const native = tokenmeterCli(['generate', '--backend', 'cpu', '--prompt', PROMPT, '--max-tokens', '3', '--temperature', '0']);
  for (let i = 1; i <= 3; i++) {
    await scoresFor(page, i - 1);
    await page.click('[data-testid=step]');
    await scoresFor(page, i);
  }
  assert.deepEqual(await continuation(page), native.ids.slice(0, 3));

  // Choose the second candidate by clicking its row: it joins the text as a forced token.
  const second = await page.$eval('[data-testid=candidates] tbody tr:nth-child(2)', (tr) => Number(tr.dataset.id));
  await page.click('[data-testid=candidates] tbody tr:nth-child(2)');
  await scoresFor(page, 4);
  assert.deepEqual(await continuation(page), [...native.ids.slice(0, 3), second]);
  assert.equal(await page.locator('[data-testid=continuation] .gen.forced').count(), 1);

  await page.click('[data-testid=undo]');
  await scoresFor(page, 3);
  assert.deepEqual(await continuation(page), native.ids.slice(0, 3));
  // The text is untouched by generation.
  assert.equal(await page.inputValue('#text'), PROMPT);
  await page.context().close();
});

test('a seeded run reproduces the native sampler token for token, and Stop halts it', async () => {
  const page = await openPage();
  await ready(page, 'Once upon a time');
  await setNumber(page, '#seed', 42);
  await setRange(page, '#temperature', 0.8);
  await page.waitForFunction(() => document.querySelector('#seed').value === '42');
  await scoresFor(page, 0);
  await page.click('[data-testid=run]');
  // The run ends by itself after 20 tokens (or an end token).
  await page.waitForFunction(() => document.querySelector('[data-testid=run]').getAttribute('aria-disabled') === 'false'
    && document.querySelectorAll('[data-testid=continuation] .gen').length > 0, null, MODEL_WAIT);
  const ids = await continuation(page);
  const native = tokenmeterCli(['generate', '--backend', 'cpu', '--prompt', 'Once upon a time', '--max-tokens', '20',
    '--temperature', '0.8', '--seed', '42']);
  assert.deepEqual(ids, native.ids, 'same seed, same tokens in wasm and natively');

  // Run again and stop early.
  await page.click('[data-testid=clear]');
  await scoresFor(page, 0);
  await page.click('[data-testid=run]');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=continuation] .gen').length >= 2);
  await page.click('[data-testid=stop]');
  const stopped = (await continuation(page)).length;
  await page.waitForTimeout(1000);
  const later = (await continuation(page)).length;
  assert.ok(later <= stopped + 1, `stopped at ${stopped}, then ${later}`);
  assert.ok(later < 20);
  await page.context().close();
});

test('the surprisal heatmap shows the native per-token scores', async () => {
  const text = 'The capital of France is Paris. The capital of Spain is Madrid.';
  const page = await openPage();
  await ready(page, text);
  await page.check('[data-testid=surprisal-toggle]');
  await page.waitForSelector('[data-tokenizer=smollm2] .token-strip.heatmap [data-bits]', MODEL_WAIT);
  const bits = await page.$$eval('[data-tokenizer=smollm2] [data-testid=tokens] .tok', (els) => els.map((e) => e.dataset.bits ?? null));
  const native = tokenmeterCli(['surprisal', '--backend', 'cpu', '--text', text]);
  assert.equal(bits.length, native.tokens.length);
  assert.equal(bits[0], null, 'nothing predicts the first token');
  native.tokens.slice(1).forEach((t, i) => assert.equal(bits[i + 1], t.surprisal_bits.toFixed(2), `token ${i + 1}`));
  assert.ok(await page.locator('text=/bits · the first token has no prediction/').isVisible());
  await page.context().close();
});

test('searching a token gives its rank and probability among all 49,152', async () => {
  const page = await openPage();
  await ready(page);
  await page.fill('#search', ' Madrid');
  await page.waitForFunction(() => /rank [0-9,]+ of 49,152/.test(document.querySelector('[data-testid=search-result]').textContent), null, MODEL_WAIT);
  const result = await page.textContent('[data-testid=search-result]');
  assert.match(result, /“·Madrid” is token [0-9]+/);
  await page.fill('#search', ' Pariszzz');
  await page.waitForFunction(() => /not one token/.test(document.querySelector('[data-testid=search-result]').textContent));
  // Typed a letter at a time, as people type: each letter asks for new scores, and the answers
  // coming back take neither the focus nor a letter from the field.
  await page.fill('#search', '');
  await page.focus('#search');
  await page.keyboard.type(' Madrid', { delay: 150 });
  await page.waitForFunction(() => /“·Madrid” is token/.test(document.querySelector('[data-testid=search-result]').textContent), null, MODEL_WAIT);
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'search');
  assert.equal(await page.inputValue('#search'), ' Madrid');
  await page.context().close();
});

test('new scores keep the candidates\' order and, after a choice from the keyboard, the focus on the same row', async () => {
  const page = await openPage();
  await ready(page);
  await page.click('[data-testid=sort-id]');
  const ascending = async () => {
    const ids = await page.$$eval('[data-testid=candidates] tbody tr', (rs) => rs.map((r) => Number(r.dataset.id)));
    return ids.length > 1 && ids.every((id, i) => i === 0 || ids[i - 1] <= id);
  };
  assert.ok(await ascending(), 'sorted by ID');
  await page.click('[data-testid=step]');
  await scoresFor(page, 1);
  assert.equal(await page.getAttribute('th:has([data-testid=sort-id])', 'aria-sort'), 'ascending');
  assert.ok(await ascending(), 'still sorted by ID after a step');
  // Choosing from the keyboard: the focus comes back to the same row of the new scores, so the
  // next choice is one more Enter away.
  await page.focus('[data-testid=candidates] tbody tr:nth-child(2) .token-button');
  await page.keyboard.press('Enter');
  await scoresFor(page, 2);
  await page.waitForFunction(() => document.activeElement === document.querySelectorAll('[data-testid=candidates] tbody .token-button')[1]);
  await page.context().close();
});

test('tokens arriving leave the backend select where the user is; a screen reader hears the next draw, not the table', async () => {
  const page = await openPage();
  await ready(page);
  // On the backend select, as a keyboard user would be, while a run adds tokens (its click does
  // not move the focus) and each answer updates the speeds beside the select.
  await page.focus('[data-testid=backend]');
  await page.$eval('[data-testid=backend]', (el) => { el.dataset.mine = 'yes'; });
  const before = await page.textContent('[data-testid=status]');
  await page.$eval('[data-testid=run]', (b) => b.click());
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=continuation] .gen').length >= 3, null, MODEL_WAIT);
  await page.waitForFunction(() => document.querySelector('[data-testid=run]').getAttribute('aria-disabled') === 'false', null, MODEL_WAIT);
  assert.notEqual(await page.textContent('[data-testid=status]'), before, 'the speeds were updated');
  assert.equal(await page.evaluate(() => document.activeElement?.dataset.testid), 'backend');
  assert.equal(await page.evaluate(() => document.activeElement?.dataset.mine), 'yes', 'the same select, not a new one');
  // Live regions: one short sentence per answer; neither the candidates nor the speeds.
  await scoresFor(page, await page.locator('[data-testid=continuation] .gen').count());
  const drawn = await page.textContent('[data-testid=drawn]');
  const said = await page.textContent('[data-testid=next-announce]');
  assert.match(said, /^Next token: “.+” \(.+ after filtering\)\.$/);
  assert.ok(said.includes(drawn), `${said} names ${drawn}`);
  assert.equal(await page.getAttribute('[data-testid=next-announce]', 'aria-live'), 'polite');
  assert.equal(await page.$eval('[data-testid=candidates]', (el) => el.closest('[aria-live]')), null);
  assert.equal(await page.$eval('[data-testid=status]', (el) => el.closest('[aria-live]')), null);
  await page.context().close();
});

test('chat mode wraps the text in the template, as the CLI does', async () => {
  const page = await openPage();
  await ready(page, 'What is the capital of France?');
  await page.check('#chat');
  const native = tokenmeterCli(['next', '--backend', 'cpu', '--chat', '--prompt', 'What is the capital of France?', '--top', '10']);
  await page.waitForFunction((n) => /Prompt of ([0-9]+) tokens/.exec(document.body.textContent)?.[1] === String(n),
    native.prompt_ids.length, MODEL_WAIT);
  const top = await page.$eval('[data-testid=candidates] tbody tr', (tr) => Number(tr.dataset.id));
  assert.equal(top, native.candidates[0].id);
  await page.context().close();
});

test('the model is kept in Cache Storage for the next visit, until cleared', async () => {
  const context = await live.browser.newContext();
  const first = await openPage(context);
  await first.waitForSelector('[data-testid=model-status]', MODEL_WAIT);
  await first.waitForSelector('text=/saved in this browser for next time/', MODEL_WAIT);
  assert.doesNotMatch(await first.textContent('[data-testid=status]'), /from this browser's cache/);
  await first.close();

  live.server.faults.model = '404'; // the network copy is gone: only the cache can serve it
  try {
    const second = await openPage(context);
    await second.waitForSelector('text=/model from this browser.s cache/', MODEL_WAIT);
    await second.click('text=Clear cached model');
    await second.waitForFunction(() => !/from this browser.s cache/.test(document.querySelector('[data-testid=status]').textContent));
    await second.close();
    const third = await openPage(context);
    await third.waitForSelector('[data-testid=model-error]', MODEL_WAIT);
    assert.match(await third.textContent('[data-testid=model-error]'), /HTTP 404/);
  } finally {
    delete live.server.faults.model;
    await context.close();
  }
});
