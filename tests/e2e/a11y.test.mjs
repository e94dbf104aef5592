// Accessibility: axe-core (npm) on the page in each state a user meets — tokens, the model's
// scores, the cost panel, decode mode, the embedded widget, the view inside the model and a
// token's merge path — with zero serious or critical violations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { useBrowser } from './harness.mjs';

const live = useBrowser();
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

async function audit(page, what) {
  // Evaluated through the DevTools protocol, which the page's CSP does not govern (an inline
  // <script> would be refused, as it should be).
  await page.evaluate(AXE);
  const result = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
  });
  const serious = result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(serious, [], `${what}: ${JSON.stringify(serious, null, 1)}`);
}

test('the page, with scores, the cost panel and decode mode, has no serious axe violations', async () => {
  const context = await live.browser.newContext();
  const page = await context.newPage();
  await page.goto(live.server.url);
  await page.locator('[data-testid=candidates] tbody tr').first().waitFor({ timeout: 120_000 });
  await audit(page, 'tokens and next-token scores');
  await page.click('.cost summary');
  await page.locator('[data-testid=cost-table] tbody tr').first().waitFor({ timeout: 60_000 });
  await audit(page, 'cost panel open');
  await page.check('[data-testid=mode-decode]');
  await page.fill('[data-testid=ids-input]', '9906, 1917');
  await page.click('[data-testid=embed]');
  await audit(page, 'decode mode and the embed snippet');
  await context.close();
});

test('dark colour scheme and the embedded widget have no serious axe violations', async () => {
  const context = await live.browser.newContext({ colorScheme: 'dark' });
  const page = await context.newPage();
  await page.goto(live.server.url);
  await page.locator('[data-tokenizer=smollm2] [data-testid=tokens] .tok').first().waitFor({ timeout: 60_000 });
  await audit(page, 'dark scheme');
  await page.goto(live.server.url + '?embed=next');
  await page.locator('[data-testid=load-model]').waitFor();
  await audit(page, 'embedded next-token widget');
  await context.close();
});

test('an open exercise and the instructor view have no serious axe violations', async () => {
  const context = await live.browser.newContext();
  const page = await context.newPage();
  await page.goto(live.server.url + '?exercise=seed/madrid');
  await page.locator('[data-testid=exercise]').waitFor({ timeout: 60_000 });
  await page.click('.exercise .hint summary');
  await audit(page, 'open exercise');
  await page.goto(live.server.url + '?instructor');
  await page.locator('[data-testid=instructor-list] li').first().waitFor({ timeout: 60_000 });
  await audit(page, 'instructor view');
  await context.close();
});

test('at phone width nothing overflows sideways and the controls stay usable', async () => {
  const context = await live.browser.newContext({ viewport: { width: 375, height: 800 }, isMobile: true });
  const page = await context.newPage();
  await page.goto(live.server.url);
  await page.locator('[data-testid=candidates] tbody tr').first().waitFor({ timeout: 120_000 });
  await page.click('.cost summary');
  await page.locator('[data-testid=cost-table] tbody tr').first().waitFor({ timeout: 60_000 });
  const [scroll, inner] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
  assert.ok(scroll <= 375 && inner <= 375, `page is ${scroll}px wide in a ${inner}px window`);
  await page.click('[data-testid=step]');
  await page.waitForSelector('[data-testid=continuation] .gen');
  await audit(page, 'phone width');
  await context.close();
});

test('inside the model and a token\'s merge path: no serious axe violations, AA contrast, fits a phone', async () => {
  for (const [colorScheme, width] of [['light', 1280], ['dark', 375]]) {
    const context = await live.browser.newContext({ colorScheme, viewport: { width, height: 900 } });
    const page = await context.newPage();
    await page.goto(live.server.url);
    await page.click('[data-testid=inside] summary');
    await page.locator('[data-testid=lens] tbody tr').first().waitFor({ timeout: 120_000 });
    await page.locator('[data-tokenizer=smollm2] .tok').first().click();
    await page.locator('[data-testid=merges]').waitFor({ timeout: 60_000 });
    await audit(page, `${colorScheme}: lens, attention and merge path`);
    // Every lens cell's and attention token's text on its own colour meets WCAG AA.
    const low = await page.evaluate(() => {
      const rgb = (c) => (c.match(/[\d.]+/g) ?? []).map(Number);
      const lum = ([r, g, b]) => {
        const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
        return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
      };
      const bg = (el) => {
        for (let e = el; e; e = e.parentElement) {
          const c = rgb(getComputedStyle(e).backgroundColor);
          if (c.length >= 3 && (c.length < 4 || c[3] > 0.5)) return c;
        }
        return [255, 255, 255];
      };
      return [...document.querySelectorAll('.lens td.cell, [data-testid=head-large] .tok, .sym')]
        .filter((el) => el.textContent.trim())
        .map((el) => {
          const a = lum(rgb(getComputedStyle(el).color)), b = lum(bg(el));
          return { ratio: (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05), text: el.textContent.slice(0, 10), cls: el.className };
        })
        .filter((c) => c.ratio < 4.5);
    });
    assert.deepEqual(low, [], `${colorScheme}: low contrast`);
    const [scroll, inner] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
    assert.ok(scroll <= inner, `${colorScheme}: page is ${scroll}px wide in a ${inner}px window`);
    await context.close();
  }
});
