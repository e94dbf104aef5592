// The cost panel as a user meets it: API prices for the text, each model counted with its own
// tokenizer (equal to the CLI), estimates labelled, search over all models, the physics behind the
// price with editable assumptions, and the language token tax.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBrowser, tokenmeterCli } from './harness.mjs';

const live = useBrowser();
const TEXT = 'The capital of France is';

async function openCost(text = TEXT) {
  const page = await (await live.browser.newContext()).newPage();
  await page.goto(live.server.url);
  await page.fill('#text', text);
  await page.click('.cost summary');
  return page;
}

/** Waits until the row of `model` has a price, and returns it. */
async function row(page, model) {
  const sel = `[data-testid=cost-table] tr[data-model="${model}"]`;
  await page.waitForFunction((sel) => document.querySelector(sel)?.dataset.total, sel, { timeout: 60_000 });
  return page.$eval(sel, (tr) => ({ total: Number(tr.dataset.total), tokens: Number(tr.dataset.tokens), text: tr.textContent }));
}

test('each model is priced with its own token count, as the CLI does; estimates say so', async () => {
  const page = await openCost();
  await page.fill('[data-testid=output-tokens]', '100');
  await page.$eval('[data-testid=output-tokens]', (el) => el.dispatchEvent(new Event('change', { bubbles: true })));
  const models = ['gpt-4o', 'gpt-3.5-turbo', 'claude-sonnet-4-5', 'gemini/gemini-2.5-pro', 'deepseek/deepseek-chat'];
  const native = tokenmeterCli(['cost', '--text', TEXT, '--output-tokens', '100', ...models.flatMap((m) => ['--model', m])]);
  await page.waitForFunction(() => document.querySelector('[data-testid=cost-table] tr[data-model="gpt-4o"]')?.dataset.total
    && Number(document.querySelector('[data-testid=cost-table] tr[data-model="gpt-4o"]').dataset.total) > 0.001, null, { timeout: 60_000 });
  for (const want of native.models) {
    const got = await row(page, want.model);
    assert.equal(got.tokens, want.tokens, want.model);
    assert.ok(Math.abs(got.total - want.total_usd) < 1e-15, `${want.model}: ${got.total} vs ${want.total_usd}`);
  }
  const claude = await page.$eval('tr[data-model="claude-sonnet-4-5"] td.estimated', (td) => ({ text: td.textContent, title: td.title }));
  assert.match(claude.text, /^≈\d+$/);
  assert.match(claude.title, /not published/);
  assert.match(await page.textContent('section.cost'), /Prices from LiteLLM 1\.110\.2 \(2026-11-20\)/);
  // Sorting by price: cheapest first (once every row has its price).
  await page.waitForFunction(() => [...document.querySelectorAll('[data-testid=cost-table] tbody tr')]
    .every((tr) => tr.dataset.total !== ''), null, { timeout: 60_000 });
  await page.click('[data-testid=sort-cost]');
  await page.waitForFunction(() => {
    const t = [...document.querySelectorAll('[data-testid=cost-table] tbody tr')].map((tr) => Number(tr.dataset.total));
    return t.length > 20 && t.every((x, i) => i === 0 || t[i - 1] <= x);
  }, null, { timeout: 10_000 });
  await page.context().close();
});

test('search finds models across the whole price table', async () => {
  const page = await openCost();
  await page.fill('[data-testid=model-search]', 'llama 70b');
  await page.waitForFunction(() => {
    const rows = [...document.querySelectorAll('[data-testid=cost-table] tbody tr')];
    return rows.length > 0 && rows.every((tr) => /llama/i.test(tr.dataset.model) && /70b/i.test(tr.dataset.model));
  }, null, { timeout: 60_000 });
  const n = await page.locator('[data-testid=cost-table] tbody tr').count();
  assert.ok(n >= 3, `${n} rows`);
  await page.context().close();
});

test('the physics follows the assumptions: batching, another GPU, its rent', async () => {
  const page = await openCost();
  await page.waitForSelector('[data-testid=physics]', { timeout: 60_000 });
  const text = () => page.textContent('[data-testid=physics]');
  assert.match(await text(), /memory-bound/);
  assert.match(await text(), /does not fit on one GPU: 2 GPUs needed/, 'Llama 3.1 70B in BF16 needs 141 GB');
  // The rent line equals the CLI's estimate for the same request.
  const tokens = tokenmeterCli(['tokenize', '--tokenizer', 'llama3', '--text', TEXT]).count;
  const cli = tokenmeterCli(['gpu-cost', '--model', 'Llama 3.1 70B', '--tokens', String(tokens), '--output-tokens', String(tokens)]);
  assert.equal(Number(await page.getAttribute('[data-testid=gpu-usd]', 'data-usd')), cli.usd);
  // Another GPU brings its own typical rent.
  await page.selectOption('[data-testid=gpu]', 'h200');
  await page.waitForFunction(() => document.querySelector('#rent').value === '4.5');
  // 4-bit weights fit on one H200.
  await page.selectOption('#precision', '0.5');
  await page.waitForFunction(() => /It fits on one GPU/.test(document.querySelector('[data-testid=physics]').textContent));
  await page.context().close();
});

test('answers arriving take nothing from the user: a price typed digit by digit, the columns asked for', async () => {
  const context = await live.browser.newContext({ viewport: { width: 375, height: 800 } });
  const page = await context.newPage();
  await page.goto(live.server.url);
  await page.fill('#text', TEXT);
  await page.click('.cost summary');
  await page.waitForSelector('[data-testid=physics]', { timeout: 60_000 });
  // Each digit typed is a new estimate asked for and answered while the next one is typed: the
  // field keeps its focus and every digit ("2.0" is not cut to "2" on the way to "2.05").
  const rent = Number(await page.inputValue('#rent'));
  const usd = Number(await page.getAttribute('[data-testid=gpu-usd]', 'data-usd'));
  await page.focus('#rent');
  await page.keyboard.press('Control+A');
  await page.keyboard.type('2.05', { delay: 150 });
  const want = (usd / rent) * 2.05;
  await page.waitForFunction((want) => Math.abs(Number(document.querySelector('[data-testid=gpu-usd]').dataset.usd) / want - 1) < 1e-9, want);
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'rent', 'the field keeps the focus');
  assert.equal(await page.inputValue('#rent'), '2.05');
  // "Show all columns" on a narrow screen stays while new prices come in for new text.
  await page.click('[data-testid=all-columns]');
  assert.ok(await page.locator('[data-testid=sort-month]').isVisible());
  const tokens = await page.getAttribute('[data-testid=cost-table] tr[data-model="gpt-4o"]', 'data-tokens');
  await page.fill('#text', `${TEXT} Paris, and it has been for a long time.`);
  await page.waitForFunction((t) => {
    const n = document.querySelector('[data-testid=cost-table] tr[data-model="gpt-4o"]')?.dataset.tokens;
    return n && n !== t;
  }, tokens, { timeout: 60_000 });
  assert.ok(await page.locator('[data-testid=sort-month]').isVisible(), 'the columns asked for are still shown');
  assert.equal(await page.getAttribute('[data-testid=all-columns]', 'aria-pressed'), 'true');
  await context.close();
});

test('the language token tax compares the same sentences in every shown tokenizer', async () => {
  const page = await openCost();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=languages] tbody tr').length === 3
    && !/…/.test(document.querySelector('[data-testid=languages]').textContent), null, { timeout: 60_000 });
  const rows = await page.$$eval('[data-testid=languages] tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
  for (const cells of rows) {
    assert.match(cells[1], /\(1\.0×\)$/, 'English is the yardstick');
  }
  // SmolLM2 (an English-centred vocabulary) pays more for Hindi than o200k_base does.
  const ratio = (cells, i) => Number(/\(([0-9.]+)×\)/.exec(cells[i])[1]);
  const hindi = 6;
  assert.ok(ratio(rows[0], hindi) > ratio(rows[1], hindi));
  await page.context().close();
});
