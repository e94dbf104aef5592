// dist/ from any static host: served under a sub-path, and opened again with the network gone
// after one visit (the service worker's app shell, the model from the worker's Cache Storage).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serveDist, launch } from './harness.mjs';

async function scores(page) {
  await page.waitForFunction(() => document.querySelector('.scores')?.dataset.stale === 'false'
    && document.querySelector('[data-testid=candidates] tbody tr'), null, { timeout: 120_000 });
  return page.locator('[data-testid=candidates] tbody tr').evaluateAll((trs) => trs.map((tr) => Number(tr.dataset.id)));
}

test('works under a sub-path, then opens and runs the model offline after one visit', async () => {
  const server = await serveDist({ prefix: '/some/path/' });
  const browser = await launch();
  try {
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(server.url);
    assert.ok(server.url.endsWith('/some/path/'));
    await page.fill('#text', 'The capital of France is');
    const online = await scores(page);
    assert.equal(online[0], 7042, "' Paris'");
    // Every request stayed under the sub-path (relative URLs everywhere).
    const outside = server.requests.filter((u) => !u.startsWith('/some/path/'));
    assert.deepEqual(outside, []);
    // The model is in Cache Storage and the service worker controls the page.
    await page.waitForSelector('text=saved in this browser for next time', { timeout: 120_000 });
    await page.evaluate(() => navigator.serviceWorker.ready);
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null || location.reload());

    server.faults.offline = true;
    const before = server.requests.length;
    await page.reload();
    await page.fill('#text', 'The capital of France is');
    await page.locator('[data-tokenizer=smollm2] [data-testid=tokens] .tok').first().waitFor({ timeout: 60_000 });
    assert.deepEqual(await scores(page), online, 'the same scores, offline');
    assert.ok(server.requests.length > before, 'the page did try the network (and got nothing)');
    // An embedded widget opens offline too (any query falls back to the shell).
    await page.goto(server.url + '?embed=tokens');
    await page.locator('[data-tokenizer=smollm2] [data-testid=tokens] .tok').first().waitFor({ timeout: 60_000 });
    assert.deepEqual(errors, []);
    await context.close();
  } finally {
    await browser.close();
    await server.close();
  }
});
