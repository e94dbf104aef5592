// What strangers send: crafted links, workers that crash, a redeploy while a reader has the page
// open, and the Content-Security-Policy every page, worker and widget runs under (the harness
// fails a test file on any violation; here we check that it would).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { cpSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { deflateRawSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useBrowser, serveDist, launch, buildId, cspViolations, DIST, ROOT } from './harness.mjs';

const live = useBrowser();
const MODEL_WAIT = { timeout: 120_000 };

/** A `#s=` link holding exactly `json` (however large or wrong), as a stranger could write it. */
function craftedLink(base, json) {
  return `${base}#s=${deflateRawSync(Buffer.from(json), { level: 9 }).toString('base64url')}`;
}

async function tokensShown(page, tokenizer = 'smollm2') {
  await page.locator(`[data-tokenizer="${tokenizer}"] [data-testid=tokens] .tok`).first().waitFor({ timeout: 60_000 });
}

test('a 10 KB link that inflates to 200,000 tokenizer names opens with the defaults and says why', async () => {
  const json = JSON.stringify({ v: 1, text: 'kept?', columns: Array(200_000).fill(['smollm2', 'llama3']).flat() });
  const link = craftedLink(live.server.url, json);
  assert.ok(link.length < 20_000, `the link is ${link.length} characters`);
  const context = await live.browser.newContext();
  const page = await context.newPage();
  await page.goto(link);
  await page.locator('[data-testid=share-notice]').waitFor();
  assert.match(await page.textContent('[data-testid=share-notice]'), /damaged, cut short or too large/);
  // The defaults: three columns, the default text (nothing of the refused link).
  for (const t of ['smollm2', 'o200k_base', 'llama3']) await tokensShown(page, t);
  assert.equal(await page.locator('[data-testid=tokens]').count(), 3);
  assert.equal(await page.inputValue('#text'), 'The capital of France is');
  await context.close();
});

test('a crafted link within the size limit is clamped: columns once, numbers in range, lists cut, tokens by ID only', async () => {
  const state = {
    v: 1,
    text: 'Hola',
    columns: Array(20_000).fill(['llama3', 'smollm2', 'nonexistent']).flat(),
    settings: { top: 1e9, sampler: { temperature: -4, top_k: 3, top_p: 7, seed: 5 }, search: 'x'.repeat(10_000) },
    continuation: Array(9000).fill({ id: 504 }),
    cost_open: true,
    cost: { cached_share: 40, requests_per_day: 1e15, assumptions: { gpu: 'H100', mfu: -3, batch: 4e9, pue: 0, usd_per_kwh: -1 } },
  };
  const json = JSON.stringify(state);
  assert.ok(json.length < 1 << 20, `${json.length} bytes: within the link's inflate limit`);
  const context = await live.browser.newContext();
  const page = await context.newPage();
  await page.goto(craftedLink(live.server.url, json));
  const notice = page.locator('[data-testid=share-notice]');
  await notice.waitFor();
  const said = await notice.textContent();
  assert.match(said, /named 60,?000 tokenizers, of which 2 are shipped and different/);
  assert.match(said, /token search was cut from 10,?000 to 256 bytes/);
  assert.match(said, /9,?000 generated tokens were cut to 8,?192/);
  assert.match(said, /out-of-range settings were brought into range: top, temperature, top-p, cached-share, requests-per-day, mfu, batch, pue, usd-per-kwh/);
  // Columns fill in their order (the first column's vocabulary is read first).
  await tokensShown(page, 'llama3');
  await tokensShown(page, 'smollm2');
  assert.deepEqual(await page.$$eval('[data-testid=tokens]', (els) => els.map((e) => e.closest('[data-tokenizer]').dataset.tokenizer)), ['llama3', 'smollm2']);
  // The clamped numbers are the ones shown.
  assert.equal(await page.inputValue('#temperature'), '0');
  assert.equal(await page.inputValue('#top-p'), '1');
  assert.equal(await page.locator('[data-testid=continuation] .gen').count(), 8192);
  await context.close();
});

test('a vocabulary whose download stalls keeps its column loading, and the next column fills all the same', async () => {
  // Vocabularies download one at a time, the first column's first (src/worker/tokens.rs): one
  // that never finishes must not hold the others back for good.
  const state = { v: 1, text: 'Stalled, not stuck.', columns: ['qwen3', 'smollm2'] };
  const context = await live.browser.newContext();
  let stalled = 0;
  await context.route(/\/vocab\/qwen3\.vocab\.gz$/, () => { stalled += 1; }); // never answered
  const page = await context.newPage();
  await page.goto(craftedLink(live.server.url, JSON.stringify(state)));
  await tokensShown(page, 'smollm2');
  assert.ok(stalled >= 1, 'the stalled vocabulary was asked for');
  assert.equal(await page.locator('[data-tokenizer=qwen3] [data-testid=tokens] .tok').count(), 0, 'no tokens without a vocabulary');
  assert.equal(await page.inputValue('#text'), state.text);
  await context.close();
});

test('a link\'s generated tokens are shown as the model spells their IDs, never as text the link carries', async () => {
  const state = { v: 1, text: 'Hola', continuation: [{ id: 504, forced: false, text: 'FORGED BY THE LINK' }] };
  const context = await live.browser.newContext();
  const page = await context.newPage();
  await page.goto(craftedLink(live.server.url, JSON.stringify(state)));
  await page.waitForFunction(() => document.querySelector('[data-testid=gen-text]')?.textContent === 'The', null, MODEL_WAIT);
  assert.ok(!(await page.textContent('body')).includes('FORGED'));
  await context.close();
});

test('the strict policy is enforced and watched: an inline style is refused and seen; only the widget may be framed', async () => {
  const context = await live.browser.newContext();
  const page = await context.newPage();
  await page.goto(live.server.url);
  await tokensShown(page);
  const before = cspViolations.length;
  // An inline style attribute set by a script: refused by style-src 'self' (no 'unsafe-inline').
  await page.evaluate(() => { document.body.setAttribute('style', 'outline: 3px solid red'); });
  await page.waitForFunction(() => true);
  await new Promise((r) => setTimeout(r, 300));
  assert.notEqual(await page.evaluate(() => getComputedStyle(document.body).outlineStyle), 'solid');
  assert.ok(cspViolations.length > before, 'the harness saw the violation');
  cspViolations.splice(before);

  // Another site framing the full page is refused (frame-ancestors 'none'); the widget's
  // entry, embed.html, may be framed (see embed.test.mjs).
  const html = `<!doctype html><iframe id="full" src="${live.server.url}"></iframe><iframe id="widget" src="${live.server.url}embed.html?embed=tokens"></iframe>`;
  const blog = createServer((req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(html));
  await new Promise((ok) => blog.listen(0, '127.0.0.1', ok));
  const host = await context.newPage();
  const refused = [];
  host.on('console', (m) => { if (/frame-ancestors/.test(m.text())) refused.push(m.text()); });
  await host.goto(`http://127.0.0.1:${blog.address().port}/`);
  await host.frameLocator('#widget').locator('[data-tokenizer=smollm2] [data-testid=tokens]').first().waitFor({ timeout: 60_000 });
  assert.equal(await host.frameLocator('#full').locator('#text').count(), 0, 'the full page did not render in a frame');
  assert.ok(refused.length > 0, 'the browser refused the full page by its frame-ancestors policy');
  cspViolations.splice(before); // the refusal above is the policy working, not a violation by the page
  await context.close();
  await new Promise((ok) => blog.close(ok));
});

/** Keeps every Worker the page starts in window.__workers, so a test can make one crash. */
async function contextWithWorkerHandles() {
  const context = await live.browser.newContext();
  await context.addInitScript(() => {
    const Original = window.Worker;
    window.__workers = [];
    window.Worker = class extends Original {
      constructor(...args) { super(...args); window.__workers.push(this); }
    };
  });
  return context;
}

/** The worker stops as one does on an uncaught error (a panic, out of memory). */
function crash(page, index) {
  return page.evaluate((i) => {
    const w = window.__workers[i];
    w.terminate();
    w.dispatchEvent(new ErrorEvent('error', { message: 'RuntimeError: unreachable (a crash made by the test)' }));
  }, index);
}

test('a crashed tokenizer worker is restarted with the columns and the user\'s file; a file that crashed it is left out', async () => {
  const context = await contextWithWorkerHandles();
  const page = await context.newPage();
  await page.goto(live.server.url);
  await page.fill('#text', 'the theory of tokens');
  await tokensShown(page);
  const file = readFileSync(join(ROOT, 'fuzz/seeds/tokenizer_file/tokenizer.json'));
  await page.setInputFiles('[data-testid=byo-file]', { name: 'mine.json', mimeType: 'application/json', buffer: file });
  await tokensShown(page, 'file:1');
  const mine = await page.textContent('[data-tokenizer="file:1"] [data-testid=token-count]');

  await crash(page, 0); // the tokenizer worker starts first
  await page.locator('[data-testid=worker-notice]').waitFor();
  assert.match(await page.textContent('[data-testid=worker-notice]'), /tokenizer stopped \(RuntimeError: unreachable.*\) and was restarted/);
  // The new worker has the user's file again and answers every column; the text is kept.
  await page.waitForFunction(() => window.__workers.length === 3);
  await tokensShown(page, 'file:1');
  assert.equal(await page.textContent('[data-tokenizer="file:1"] [data-testid=token-count]'), mine);
  // Given again to the new worker, the file is still one column and one entry in the picker.
  assert.equal(await page.locator('[data-tokenizer="file:1"]').count(), 1);
  assert.equal(await page.locator('details.picker li', { hasText: 'mine.json' }).count(), 1);
  assert.equal(await page.inputValue('#text'), 'the theory of tokens');
  await page.fill('#text', 'the theory of tokens, edited');
  await page.waitForFunction(() => document.querySelector('[data-tokenizer=smollm2] [data-testid=token-count]')?.textContent.startsWith('6 tokens'));

  // A second file, and the worker stops while reading it: that file is blamed and not re-sent.
  await page.evaluate(async ([json]) => {
    const input = document.querySelector('[data-testid=byo-file]');
    const dt = new DataTransfer();
    dt.items.add(new File([json], 'crasher.json', { type: 'application/json' }));
    input.files = dt.files;
    input.dispatchEvent(new Event('change', { bubbles: true }));
    const w = window.__workers[window.__workers.length - 1];
    w.terminate();
    w.dispatchEvent(new ErrorEvent('error', { message: 'RuntimeError: unreachable (a crash made by the test)' }));
  }, [file.toString()]);
  await page.locator('[data-testid=byo-error]').waitFor();
  assert.match(await page.textContent('[data-testid=byo-error]'), /crasher\.json stopped the tokenizer while it was read; it was left out/);
  await tokensShown(page, 'file:1');
  assert.equal(await page.locator('[data-tokenizer="file:2"]').count(), 0);
  await context.close();
});

test('a crashed model worker is restarted and the scores come back, the text kept', async () => {
  const context = await contextWithWorkerHandles();
  const page = await context.newPage();
  await page.goto(live.server.url);
  await page.fill('#text', 'The capital of France is');
  await page.locator('[data-testid=candidates] tbody tr').first().waitFor(MODEL_WAIT);
  await crash(page, 1); // the model worker starts second
  await page.locator('[data-testid=worker-notice]').waitFor();
  assert.match(await page.textContent('[data-testid=worker-notice]'), /model stopped .* and was restarted/);
  await page.waitForFunction(() => window.__workers.length === 3);
  await page.waitForFunction(() => document.querySelector('.scores')?.dataset.stale === 'false'
    && document.querySelector('[data-testid=candidates] tbody tr')?.dataset.id === '7042', null, MODEL_WAIT);
  assert.equal(await page.inputValue('#text'), 'The capital of France is');
  await context.close();
});

/**
 * dist/ as a second build would deploy it: every build-named file renamed for build `id`, the
 * same contents otherwise (the model is linked, not copied).
 */
function anotherBuild(id) {
  const from = buildId();
  const dir = mkdtempSync(join(tmpdir(), 'tokenmeter-build-'));
  for (const name of readdirSync(DIST)) {
    if (name === 'models') symlinkSync(join(DIST, name), join(dir, name));
    else cpSync(join(DIST, name), join(dir, name), { recursive: true });
  }
  for (const name of readdirSync(dir)) {
    if (name.includes(from)) renameSync(join(dir, name), join(dir, name.replace(from, id)));
  }
  for (const name of ['index.html', 'embed.html', 'sw.js']) {
    const path = join(dir, name);
    writeFileSync(path, readFileSync(path, 'utf8').replaceAll(from, id));
  }
  return dir;
}

test('after a redeploy only the new build runs: its workers, one cache, nothing of the old left, still offline', async () => {
  const A = buildId();
  const B = [...A].reverse().join('') === A ? 'b'.repeat(16) : [...A].reverse().join('');
  const distB = anotherBuild(B);
  const server = await serveDist();
  const browser = await launch();
  try {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(server.url);
    await page.fill('#text', 'Hola, mundo');
    await tokensShown(page);
    // The model has answered once, so build A has started every worker it will (the model
    // worker says it is ready only once its pool's helpers have loaded their script; on a busy
    // machine that came after the wait below): a request of A seen after the redeploy is then the
    // new page's, not a late start of the old one's.
    await page.locator('[data-testid=candidates] tbody tr').first().waitFor({ timeout: 120_000 });
    await page.evaluate(() => navigator.serviceWorker.ready);
    for (let i = 0; i < 600 && !(await page.evaluate(async (A) => (await caches.keys()).includes(`tokenmeter-shell-${A}`), A)); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }

    // The site is redeployed while the page is open; the reader comes back.
    server.site.dist = distB;
    const since = server.requests.length;
    await page.reload();
    await tokensShown(page);
    const shells = () => page.evaluate(async () => (await caches.keys()).filter((k) => k.startsWith('tokenmeter-shell-')));
    // (waitForFunction does not await an async predicate: poll from here.)
    const settled = async () => page.evaluate(async (B) => {
      const keys = (await caches.keys()).filter((k) => k.startsWith('tokenmeter-shell-'));
      return keys.length === 1 && keys[0] === `tokenmeter-shell-${B}`
        && (await navigator.serviceWorker.getRegistration())?.active?.state === 'activated';
    }, B);
    for (let i = 0; i < 600 && !(await settled()); i++) await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(await shells(), [`tokenmeter-shell-${B}`]);
    assert.equal(await page.getAttribute('meta[name=tokenmeter-build]', 'content'), B);
    for (const w of page.workers()) assert.match(w.url(), new RegExp(`build=${B}(&role=(tokens|thread))?$`));
    // Nothing of build A was asked for after the redeploy, and nothing of it is cached.
    const asked = server.requests.slice(since);
    assert.deepEqual(asked.filter((u) => u.includes(A)), []);
    const cached = await page.evaluate(async () => {
      const urls = [];
      for (const k of await caches.keys()) for (const r of await (await caches.open(k)).keys()) urls.push(r.url);
      return urls;
    });
    assert.deepEqual(cached.filter((u) => u.includes(A)), []);
    assert.ok(cached.some((u) => new RegExp(`worker-(relaxed-)?${B}_bg\\.wasm$`).test(u)), 'the new worker is precached');
    assert.ok(cached.some((u) => u.endsWith(`tokens-${B}_bg.wasm`)), 'the new light worker is precached');

    // Offline, the reader still gets build B, whole.
    server.faults.offline = true;
    await page.reload();
    await page.fill('#text', 'Hola, mundo');
    await tokensShown(page);
    assert.equal(await page.getAttribute('meta[name=tokenmeter-build]', 'content'), B);
    for (const w of page.workers()) assert.match(w.url(), new RegExp(`build=${B}(&role=(tokens|thread))?$`));
    await context.close();
  } finally {
    await browser.close();
    await server.close();
    rmSync(distB, { recursive: true, force: true });
  }
});
