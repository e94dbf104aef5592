// The embedded widget's first paint, for `./dev bench`: a fresh browser context (nothing cached)
// opens `?embed=tokens` with a shared text, and we time navigation → the frame that paints the
// first token (measured in the page), and count the bytes it downloaded (the model is not among
// them). Median of 5 runs; JSON out.
import { serveDist, launch } from './harness.mjs';

const server = await serveDist();
const browser = await launch();
try {
  // A link with some text in it, as a blog would embed (made by the page itself).
  const maker = await browser.newPage();
  await maker.goto(server.url);
  await maker.fill('#text', 'A token is a number. Un token es un número. 令牌是一个数字。');
  await maker.waitForFunction(() => location.hash.startsWith('#s='));
  await maker.waitForTimeout(500);
  const hash = await maker.evaluate(() => location.hash);
  await maker.close();
  const runs = [];
  for (let i = 0; i < 5; i++) {
    const context = await browser.newContext();
    const page = await context.newPage();
    let bytes = 0;
    page.on('response', async (r) => { try { bytes += (await r.body()).length; } catch { /* redirects */ } });
    // The time is taken in the page: the frame after the first token enters the DOM (the frame
    // that paints it). Playwright's own waitForSelector polls every 500 ms after its first tries,
    // which made earlier entries up to half a second late.
    await page.addInitScript(() => {
      new MutationObserver((_, observer) => {
        if (document.querySelector('[data-tokenizer=smollm2] [data-testid=tokens] .tok')) {
          observer.disconnect();
          requestAnimationFrame(() => { window.__firstTokenMs = performance.now(); });
        }
      }).observe(document, { childList: true, subtree: true });
    });
    await page.goto(`${server.url}?embed=tokens${hash}`);
    await page.waitForFunction(() => window.__firstTokenMs !== undefined, null, { polling: 'raf' });
    const ms = await page.evaluate(() => window.__firstTokenMs);
    await page.waitForTimeout(300);
    runs.push({ first_token_ms: ms, bytes });
    await context.close();
  }
  runs.sort((a, b) => a.first_token_ms - b.first_token_ms);
  const median = runs[Math.floor(runs.length / 2)];
  console.log(JSON.stringify({ chromium: browser.version(), runs, median }));
} finally {
  await browser.close();
  await server.close();
}
