// Links: the whole state in the address, restored exactly by whoever opens the link; a damaged
// link gives the defaults and a notice, never a blank page.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBrowser } from './harness.mjs';

const live = useBrowser();

async function open(url) {
  const context = await live.browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(url);
  return { context, page, errors };
}

const tokenIds = (page, tokenizer) => page.locator(`[data-tokenizer=${tokenizer}] [data-testid=tokens] .tok`)
  .evaluateAll((els) => els.map((e) => Number(e.dataset.id)));

test('a link reproduces text, tokenizers, sampling, forced tokens and cost settings', async () => {
  const { context, page, errors } = await open(live.server.url);
  await page.fill('#text', 'Hola, mundo. Un token es un número.');
  // Another tokenizer beside the defaults.
  await page.click('details.picker summary');
  await page.check('[data-testid=pick-qwen3]');
  await page.click('details.picker summary');
  // Sampling: temperature and seed.
  await page.$eval('#temperature', (e) => { e.value = '0.7'; e.dispatchEvent(new Event('input', { bubbles: true })); });
  await page.fill('#seed', '1234');
  // Force a token after the text: click the second candidate once the model answered for it.
  await page.waitForFunction(() => document.querySelector('.scores')?.dataset.stale === 'false'
    && document.querySelector('[data-testid=candidates] tbody tr'), null, { timeout: 120_000 });
  const second = page.locator('[data-testid=candidates] tbody tr:nth-child(2)');
  const forcedId = Number(await second.getAttribute('data-id'));
  await second.click();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=continuation] .gen.forced').length === 1);
  // Cost panel open, with an output length.
  await page.click('.cost summary');
  await page.locator('[data-testid=output-tokens]').fill('321');
  // The address follows (debounced).
  await page.waitForFunction(() => location.hash.startsWith('#s=') && location.hash.length > 20);
  await page.waitForTimeout(500);
  await page.locator('[data-testid=copy-link]').click();
  const link = await page.evaluate(() => location.href);
  assert.ok(!link.includes('mundo'), 'the text is compressed into the fragment, not readable in the link');
  const expectIds = await tokenIds(page, 'qwen3');

  const b = await open(link);
  assert.equal(await b.page.inputValue('#text'), 'Hola, mundo. Un token es un número.');
  await b.page.waitForFunction((n) => document.querySelectorAll('[data-tokenizer=qwen3] [data-testid=tokens] .tok').length === n,
    expectIds.length, { timeout: 60_000 });
  assert.deepEqual(await tokenIds(b.page, 'qwen3'), expectIds);
  assert.equal(Number(await b.page.inputValue('#temperature')), 0.7);
  assert.equal(await b.page.inputValue('#seed'), '1234');
  const cont = b.page.locator('[data-testid=continuation] .gen.forced');
  await cont.first().waitFor();
  assert.deepEqual(await cont.evaluateAll((els) => els.map((e) => Number(e.dataset.id))), [forcedId]);
  assert.equal(await b.page.locator('.cost details').evaluate((d) => d.open), true);
  assert.equal(await b.page.inputValue('[data-testid=output-tokens]'), '321');
  assert.equal(await b.page.locator('[data-testid=share-notice]').count(), 0);
  assert.deepEqual([...errors, ...b.errors], []);
  await b.context.close();
  await context.close();
});

test('a damaged link opens the page with the defaults and says why', async () => {
  for (const hash of ['#s=this-is-not-a-link', '#s=eJzLSM3JyVcozy_KSQEAGgQEXQ']) {
    const { context, page, errors } = await open(live.server.url + hash.slice(0, -3));
    const notice = page.locator('[data-testid=share-notice]');
    await notice.waitFor();
    assert.match(await notice.textContent(), /could not be read/);
    assert.ok((await page.inputValue('#text')).length > 0, 'the default text is there');
    await page.waitForSelector('[data-tokenizer=smollm2] [data-testid=tokens] .tok');
    // Still usable: typing works and the link is rewritten from the new state.
    await page.fill('#text', 'still works');
    await page.waitForFunction(() => location.hash.startsWith('#s=') && !location.hash.startsWith('#s=this'));
    assert.deepEqual(errors, []);
    await context.close();
  }
});
