// Inside the model, in the built page on the real SmolLM2: the logit lens and the attention
// heads (equal to the native CLI's, bit for bit, since the CPU path is), the position chooser,
// the keyboard, the widget and the link; and how a token was built, for shipped columns and a
// file of the user's own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { useBrowser, tokenmeterCli, ROOT } from './harness.mjs';

const live = useBrowser();
const MODEL_WAIT = { timeout: 120_000 };

async function open(url = live.server.url) {
  const context = await live.browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(url);
  return { context, page, errors };
}

/** Opens the panel and waits for the lens of `position` (default: the last token). */
async function lensOf(page, position) {
  const table = position === undefined ? '[data-testid=lens]' : `[data-testid=lens][data-position="${position}"]`;
  await page.waitForSelector(`${table} tbody tr`, MODEL_WAIT);
  return page.$$eval('[data-testid=lens] tbody tr', (rows) => rows.map((r) => ({
    layer: Number(r.dataset.layer),
    answerRank: Number(r.dataset.answerRank),
    top: [...r.querySelectorAll('td.cell')].map((c) => ({ id: Number(c.dataset.id), prob: Number(c.dataset.prob) })),
  })));
}

const sameAsCli = (rows, cli) => {
  assert.equal(rows.length, cli.layers.length);
  for (const [i, row] of rows.entries()) {
    const want = cli.layers[i];
    assert.equal(row.layer, want.layer);
    assert.equal(row.answerRank, want.answer_rank, `block ${row.layer}: rank of the answer`);
    assert.deepEqual(row.top.map((c) => c.id), want.top.map((c) => c.id), `block ${row.layer}: top ids`);
    // The same f32 logits natively and in wasm: the same probabilities, to the last bit.
    assert.deepEqual(row.top.map((c) => c.prob), want.top.map((c) => c.prob), `block ${row.layer}: probabilities`);
  }
};

test('the logit lens in the page equals the native CLI, bit for bit, and its last block is the next-token panel', async () => {
  const { context, page, errors } = await open();
  await page.fill('#text', 'The capital of France is');
  await page.click('[data-testid=inside] summary');
  const rows = await lensOf(page);
  const cli = tokenmeterCli(['lens', '--backend', 'cpu', '--prompt', 'The capital of France is', '--top', '5']);
  sameAsCli(rows, cli);
  assert.match(await page.textContent('[data-testid=lens-summary]'), /·Paris.*block 30 of 30/);
  // The last block's row is the model's prediction: the same candidates as the next-token panel.
  await page.waitForSelector('[data-testid=candidates] tbody tr', MODEL_WAIT);
  const next = await page.$$eval('[data-testid=candidates] tbody tr', (rs) => rs.slice(0, 5).map((r) => Number(r.dataset.id)));
  assert.deepEqual(rows[29].top.map((c) => c.id), next);
  assert.ok(await page.locator('[data-testid=lens-chart]').isVisible());
  // The position chooser stays under a keyboard user while the answer for each position comes.
  await page.focus('[data-testid=inside-position]');
  await page.keyboard.press('ArrowUp');
  await page.waitForSelector('[data-testid=lens][data-position="3"] tbody tr', MODEL_WAIT);
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'inside-position');
  // Another position: the lens at " capital" (position 1), as the CLI computes it.
  await page.selectOption('[data-testid=inside-position]', '1');
  const at1 = await lensOf(page, 1);
  sameAsCli(at1, tokenmeterCli(['lens', '--backend', 'cpu', '--prompt', 'The capital of France is', '--top', '5', '--position', '1']));
  assert.deepEqual(errors, []);
  await context.close();
});

test('attention: 30 × 9 heads, one tab stop, arrow keys, the large head sums to 1 and matches the CLI', async () => {
  const { context, page } = await open();
  await page.fill('#text', 'Alice gave Bob a book because Bob');
  await page.click('[data-testid=inside] summary');
  await page.waitForSelector('[data-testid=heads] button.head', MODEL_WAIT);
  assert.equal(await page.locator('[data-testid=heads] .head-row').count(), 30);
  assert.equal(await page.locator('[data-testid=heads] button.head').count(), 270);
  assert.equal(await page.locator('[data-testid=heads] button.head[tabindex="0"]').count(), 1);
  // Keyboard: from the first head, right twice and down once → block 2, head 3.
  await page.focus('[data-testid=heads] button.head[tabindex="0"]');
  for (const key of ['ArrowRight', 'ArrowRight', 'ArrowDown']) await page.keyboard.press(key);
  await page.waitForFunction(() => document.activeElement?.dataset.head === '1/2');
  assert.equal(await page.getAttribute('[data-head="1/2"]', 'aria-pressed'), 'true');
  assert.match(await page.textContent('[data-testid=head-caption]'), /Block 2, head 3/);
  const weights = await page.$$eval('[data-testid=head-large] [data-weight]', (els) => els.map((e) => Number(e.dataset.weight)));
  const cli = tokenmeterCli(['attention', '--backend', 'cpu', '--prompt', 'Alice gave Bob a book because Bob']);
  assert.deepEqual(weights, cli.layers[1].heads[2].weights, 'the page and the CLI agree bit for bit');
  assert.ok(Math.abs(weights.reduce((a, b) => a + b, 0) - 1) < 1e-5);
  // A head clicked keeps the focus (the grid is not redrawn under it), and arrows go on from it.
  await page.click('[data-head="4/5"]');
  assert.equal(await page.evaluate(() => document.activeElement?.dataset.head), '4/5');
  await page.keyboard.press('ArrowLeft');
  await page.waitForFunction(() => document.activeElement?.dataset.head === '4/4');
  // Grouped-query attention is marked: heads 1, 4 and 7 start a group of keys and values.
  const starts = await page.$$eval('[data-testid=heads] .head-row:first-child button.head', (bs) => bs.map((b) => b.classList.contains('group-start')));
  assert.deepEqual(starts, [true, false, false, true, false, false, true, false, false]);
  await context.close();
});

test('how a token was built: click or Enter on a token shows its merge path and the other columns', async () => {
  const { context, page } = await open();
  await page.fill('#text', 'The capital of France is Paris');
  await page.waitForSelector('[data-tokenizer=smollm2] .tok');
  await page.click('[data-tokenizer=smollm2] .tok[data-id="7042"]');
  await page.waitForSelector('[data-testid=merges] li');
  assert.match(await page.textContent('#explain-title'), /token 7042 of SmolLM2/);
  const steps = await page.$$eval('[data-testid=merges] li', (ls) => ls.map((l) => l.textContent));
  const cli = tokenmeterCli(['explain-token', '--id', '7042', '--compare', 'o200k_base,llama3']);
  assert.equal(steps.length, cli.tokens[0].path.steps.length);
  assert.match(steps.at(-1), /→ ·Paris$/);
  const others = await page.$$eval('[data-testid=elsewhere] tbody tr', (rs) => rs.map((r) => r.dataset.tokenizer));
  assert.deepEqual(others, ['o200k_base', 'llama3']);
  assert.match(await page.textContent('[data-testid=elsewhere] tr[data-tokenizer=o200k_base]'), new RegExp(`one token, ID ${cli.elsewhere[0].ids[0]}`));
  await page.click('[data-testid=explain-close]');
  assert.equal(await page.locator('[data-testid=explain]').count(), 0);

  // Keyboard, in a column of the user's own file (Qwen3's tokenizer.json).
  await page.click('details.picker summary');
  await page.setInputFiles('[data-testid=byo-file]', join(ROOT, 'data/tokenizers/qwen3.json'));
  await page.waitForSelector('[data-tokenizer="file:1"] .tok');
  await page.focus('[data-tokenizer="file:1"] .tok');
  await page.keyboard.press('Enter');
  await page.waitForSelector('[data-testid=merges]');
  assert.match(await page.textContent('#explain-title'), /qwen3\.json/);
  await context.close();
});

test('status is said from live regions that stay in the page; the explain panel keeps its Close button across answers', async () => {
  // A live region inserted together with its text is not reliably announced: each panel says its
  // news from a region that was there before, and only that region changes.
  const { context, page, errors } = await open();
  const regions = ['tokens-announce', 'explain-announce', 'next-announce', 'backend-status', 'inside-announce'];
  for (const id of regions) {
    // Marked as soon as the app has mounted, before any text, answer or failure.
    await page.waitForSelector(`[data-testid=${id}]`, { state: 'attached' });
    await page.$eval(`[data-testid=${id}]`, (el) => { el.dataset.mine = 'yes'; });
  }
  await page.fill('#text', 'The capital of France is Paris');
  await page.waitForSelector('[data-tokenizer=smollm2] .tok[data-id="7042"]');
  // One sentence for every column's count: the same counts the columns show.
  await page.waitForFunction(() => {
    const said = [...document.querySelectorAll('.columns .column')].map((c) => {
      const n = c.querySelector('[data-testid=token-count]')?.textContent.match(/^(\d+) tokens?/)?.[1];
      return n && `${c.querySelector('h3').textContent}: ${n} token${n === '1' ? '' : 's'}`;
    });
    return said.length > 1 && said.every(Boolean)
      && document.querySelector('[data-testid=tokens-announce]').textContent === said.join(' · ');
  });
  assert.equal(await page.$eval('[data-testid=token-count]', (el) => el.closest('[aria-live]')), null,
    'the columns themselves are not live regions');

  // How a token was built: its title is said once the answer is there.
  await page.click('[data-tokenizer=smollm2] .tok[data-id="7042"]');
  await page.waitForSelector('[data-testid=merges] li');
  await page.waitForFunction(() => /How token 7042 of SmolLM2 was built/.test(document.querySelector('[data-testid=explain-announce]').textContent));
  assert.equal(await page.$eval('[data-testid=explain]', (el) => el.closest('[aria-live]')), null, 'the explanation itself is not read out whole');
  // On Close, a keyboard user asks about another token (a pointer click does not move the focus):
  // the answer redraws the title and the body, not the button.
  await page.focus('[data-testid=explain-close]');
  await page.$eval('[data-testid=explain-close]', (el) => { el.dataset.mine = 'yes'; });
  const other = await page.$eval('[data-tokenizer=smollm2] .tok', (el) => el.dataset.id);
  assert.notEqual(other, '7042');
  await page.$eval('[data-tokenizer=smollm2] .tok', (el) => el.click());
  await page.waitForFunction((id) => document.querySelector('#explain-title').textContent.includes(`token ${id} of`)
    && document.querySelector('[data-testid=explain-announce]').textContent.includes(`token ${id} of`), other);
  await page.waitForSelector('[data-testid=merges] li');
  assert.equal(await page.evaluate(() => document.activeElement?.dataset.mine), 'yes', 'the same Close button keeps the focus');

  // Inside the model: the wait is said from the panel's region, which stays when the answer comes.
  await page.click('[data-testid=inside] summary');
  await lensOf(page);
  assert.equal(await page.textContent('[data-testid=inside-announce]'), '');
  for (const id of regions) {
    assert.equal(await page.$eval(`[data-testid=${id}]`, (el) => el.dataset.mine), 'yes', `${id} is the region that was there`);
  }
  await page.waitForFunction(() => /^Next token: /.test(document.querySelector('[data-testid=next-announce]').textContent), null, MODEL_WAIT);
  assert.deepEqual(errors, []);
  await context.close();
});

test('the lens widget loads the model on request; a link keeps the panel and its position', async () => {
  const { context, page } = await open(live.server.url + '?embed=lens');
  await page.click('[data-testid=inside-load]');
  await page.waitForSelector('[data-testid=lens] tbody tr', MODEL_WAIT);
  assert.equal(await page.locator('[data-testid=lens] tbody tr').count(), 30);
  await context.close();

  const full = await open();
  await full.page.click('[data-testid=inside] summary');
  await lensOf(full.page);
  await full.page.selectOption('[data-testid=inside-position]', '2');
  await lensOf(full.page, 2);
  await full.page.waitForFunction(() => location.hash.length > 10);
  await full.page.waitForTimeout(500); // the address follows after a quiet moment
  const link = await full.page.evaluate(() => location.href);
  await full.context.close();
  const again = await open(link);
  await again.page.waitForSelector('[data-testid=inside]');
  assert.ok(await again.page.$eval('[data-testid=inside]', (d) => d.open));
  await lensOf(again.page, 2);
  await again.context.close();
});
