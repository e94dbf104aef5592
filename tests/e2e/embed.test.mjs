// The embeddable widget, as a blog uses it: the snippet from the page's Embed button pasted into
// another site's page, inside a sandboxed iframe. It shows the shared state, fits its height to
// its content, links to the full page, and downloads the model only when the reader asks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { deflateRawSync } from 'node:zlib';
import { useBrowser, recordRequests } from './harness.mjs';

const live = useBrowser();
const TEXT = 'Embedded: un token es un número.';

/** The snippet the full page offers for `panel`, after typing TEXT. */
async function snippetFor(panel) {
  const context = await live.browser.newContext();
  const page = await context.newPage();
  await page.goto(live.server.url);
  await page.fill('#text', TEXT);
  await page.click('[data-testid=embed]');
  await page.selectOption('[data-testid=embed-panel]', panel);
  await page.waitForFunction(() => document.querySelector('[data-testid=embed-snippet]').value.includes('#s='));
  await page.waitForTimeout(400);
  const snippet = await page.inputValue('[data-testid=embed-snippet]');
  await context.close();
  return snippet;
}

/**
 * A page on another origin (a blog on another port: Chromium's Private Network Access rules keep
 * a public site from framing a loopback one, so the host is local too) holding the snippet.
 */
async function blogWith(snippet) {
  const html = `<!doctype html><html><body><h1>A post about tokens</h1>${snippet}<p>After the widget.</p></body></html>`;
  const blog = createServer((req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(html));
  await new Promise((ok) => blog.listen(0, '127.0.0.1', ok));
  const context = await live.browser.newContext();
  const urls = recordRequests(context);
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`http://127.0.0.1:${blog.address().port}/post.html`);
  const close = async () => { await context.close(); await new Promise((ok) => blog.close(ok)); };
  return { context: { close }, page, urls, errors };
}

test('the tokens widget works in a sandboxed iframe on another site, sized to its content', async () => {
  const snippet = await snippetFor('tokens');
  // (The frame's document is same-origin with the widget server, not with the blog.)
  assert.match(snippet, /^<iframe src="http:\/\/127\.0\.0\.1:\d+\/embed\.html\?embed=tokens#s=[A-Za-z0-9_-]+"/);
  assert.match(snippet, /sandbox="allow-scripts allow-same-origin/);
  const { context, page, urls, errors } = await blogWith(snippet);
  const frame = page.frameLocator('iframe');
  await frame.locator('[data-tokenizer=smollm2] [data-testid=tokens] .tok').first().waitFor({ timeout: 60_000 });
  assert.equal(await frame.locator('#text').inputValue(), TEXT);
  assert.equal(await frame.locator('header').count(), 0, 'no page chrome');
  // The host's listener resized the frame from the widget's height messages.
  await page.waitForFunction(() => document.querySelector('iframe').style.height.endsWith('px'));
  const styled = await page.evaluate(() => parseFloat(document.querySelector('iframe').style.height));
  const content = await frame.locator('html').evaluate((h) => h.scrollHeight);
  assert.ok(Math.abs(styled - content) <= 2, `frame ${styled}px for ${content}px of content`);
  // "Open in tokenmeter": the full page with the same state.
  const href = await frame.locator('[data-testid=open-full]').getAttribute('href');
  assert.match(href, /^http:\/\/127\.0\.0\.1:\d+\/#s=/);
  assert.ok(!href.includes('embed='));
  assert.ok(!urls.some((u) => u.includes('/models/')), 'the model was not downloaded');
  // Nor the model's code: the light worker only (tokens-<build>_bg.wasm), not worker-*.
  assert.ok(urls.some((u) => /\/tokens-[0-9a-f]{16}_bg\.wasm$/.test(u)), 'the light worker ran');
  assert.ok(!urls.some((u) => /\/worker-(relaxed-|threads-)?[0-9a-f]{16}(_bg\.wasm|\.js)$/.test(u)), `no model worker was downloaded: ${urls.join(" ")}`);
  // One tokens worker: the one public/early-tokens.js started before the page's wasm, adopted.
  const loaders = urls.filter((u) => /\/worker-loader\.js\?build=[0-9a-f]{16}&role=tokens$/.test(u));
  assert.equal(loaders.length, 1, `one tokens worker started: ${loaders.join(' ')}`);
  assert.equal(await frame.locator('html').evaluate(() => typeof self.tokenmeterEarlyTokens), 'undefined', 'the page took it');
  assert.deepEqual(errors, []);
  await context.close();
});

test('the next-token widget loads the model only when the reader asks', async () => {
  const { context, page, urls } = await blogWith(await snippetFor('next'));
  const frame = page.frameLocator('iframe');
  const load = frame.locator('[data-testid=load-model]');
  await load.waitFor({ timeout: 60_000 });
  assert.ok(!urls.some((u) => u.includes('/models/')), 'nothing downloaded before the click');
  assert.ok(!urls.some((u) => /\/worker-(relaxed-|threads-)?[0-9a-f]{16}_bg\.wasm$/.test(u)), 'not even its code');
  await load.click();
  await frame.locator('[data-testid=candidates] tbody tr').first().waitFor({ timeout: 120_000 });
  assert.ok(urls.some((u) => u.includes('/models/SmolLM2')), 'downloaded after the click');
  assert.ok(urls.some((u) => /\/worker-relaxed-[0-9a-f]{16}_bg\.wasm$/.test(u)), 'the relaxed-SIMD model worker');
  await context.close();
});

test("a widget's vocabularies download before its page runs, the link's first column first, one at a time", async () => {
  // A link as the page writes it (src/app/link.rs, core service::link): deflated JSON, base64url.
  const state = { v: 1, text: TEXT, columns: ['qwen3', 'smollm2'] };
  const link = '#s=' + deflateRawSync(JSON.stringify(state)).toString('base64url');
  const context = await live.browser.newContext();
  // The page's own wasm is held back until the first vocabulary has downloaded: only the worker
  // public/early-tokens.js started, told the address's fragment, can have asked for it.
  let firstVocabDone;
  let heldTooLong = false;
  const vocabDone = new Promise((ok) => { firstVocabDone = ok; });
  await context.route(/\/tokenmeter-web-[0-9a-f]+_bg\.wasm$/, async (route) => {
    await Promise.race([vocabDone, new Promise((ok) => setTimeout(() => { heldTooLong = true; ok(); }, 20_000))]);
    await route.continue();
  });
  const vocabs = [];
  context.on('request', (r) => {
    if (r.url().includes('/vocab/')) vocabs.push({ name: r.url().split('/').pop(), start: Date.now() });
  });
  context.on('requestfinished', (r) => {
    const v = vocabs.find((v) => r.url().endsWith('/' + v.name));
    if (v) { v.end = Date.now(); firstVocabDone(); }
  });
  const page = await context.newPage();
  await page.goto(`${live.server.url}embed.html?embed=tokens${link}`);
  await vocabDone;
  assert.ok(!heldTooLong, 'a vocabulary was downloaded while the page\'s wasm was held back');
  assert.deepEqual(vocabs.map((v) => v.name), ['qwen3.vocab.gz'], 'the first column, before the page ran');
  await page.locator('[data-tokenizer=smollm2] [data-testid=tokens] .tok').first().waitFor({ timeout: 60_000 });
  await page.locator('[data-tokenizer=qwen3] [data-testid=tokens] .tok').first().waitFor({ timeout: 60_000 });
  assert.deepEqual(vocabs.map((v) => v.name), ['qwen3.vocab.gz', 'smollm2.vocab.gz'], 'each once, in the link\'s order');
  assert.ok(vocabs[1].start >= vocabs[0].end, `one at a time: ${JSON.stringify(vocabs)}`);
  await context.close();
});
