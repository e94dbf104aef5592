// Workshop exercises, loaded from exercises/*.toml (served as JSON): every shipped exercise opens in its starting
// state (not yet solved), and typing its sample answer (and choosing its head, for the attention
// exercise) makes the page check it as done — with the real tokenizers, model and prices in the
// browser, the logit lens, attention and merge paths included. The instructor view lists them all, and the
// texts switch to Spanish.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBrowser } from './harness.mjs';

const live = useBrowser();

test('every shipped exercise is unsolved at its start and solved by its sample answer', async () => {
  const context = await live.browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(live.server.url + '?instructor&lang=en');
  const items = page.locator('[data-testid=instructor-list] li');
  await items.first().waitFor({ timeout: 60_000 });
  const all = await items.evaluateAll((lis) => lis.map((li) => ({ set: li.dataset.set, id: li.dataset.id, answer: li.dataset.answer,
    head: li.dataset.answerHead })));
  assert.ok(all.length >= 11, `${all.length} exercises`);
  for (const ex of all) {
    await page.goto(`${live.server.url}?exercise=${ex.set}/${ex.id}&lang=en`);
    const card = page.locator(`[data-testid=exercise][data-exercise="${ex.id}"]`);
    await card.waitFor({ timeout: 60_000 });
    assert.equal(await card.getAttribute('data-solved'), 'false', `${ex.id}: solved before any answer`);
    // A screen reader hears the verdict (a status region that stays), not the redrawn list.
    await page.waitForFunction((id) => {
      const c = document.querySelector(`[data-testid=exercise][data-exercise="${id}"]`);
      const m = c?.querySelector('[data-testid=exercise-verdict]').textContent.match(/^(\d+) of (\d+) checks met\.$/);
      return m && Number(m[2]) === c.querySelectorAll('ul.checks li').length
        && Number(m[1]) === c.querySelectorAll('ul.checks li.met').length;
    }, ex.id);
    assert.equal(await card.locator('ul.checks').getAttribute('aria-live'), null);
    await page.fill('#text', ex.answer);
    if (ex.head) {
      // An exercise about the attention view: choose the answer's head (1-based "block/head").
      const [b, h] = ex.head.split('/').map(Number);
      await page.click(`[data-head="${b - 1}/${h - 1}"]`, { timeout: 180_000 });
    }
    await page.waitForSelector(`[data-testid=exercise][data-exercise="${ex.id}"][data-solved=true]`, { timeout: 180_000 })
      .catch(async (e) => { throw new Error(`${ex.id}: ${await card.innerText()}\n${e}`); });
    assert.match(await page.locator('[data-testid=exercise-verdict]').textContent(), /Done/);
  }
  assert.deepEqual(errors, []);
  await context.close();
});

test('exercises open from the list, move on, and read in Spanish', async () => {
  const context = await live.browser.newContext({ locale: 'es-ES' });
  const page = await context.newPage();
  await page.goto(live.server.url);
  assert.equal(await page.inputValue('[data-testid=lang]'), 'es', 'the browser language chooses Spanish');
  await page.click('.exercises summary');
  await page.click('[data-testid=open-pieces]');
  const card = page.locator('[data-testid=exercise]');
  await card.waitFor();
  assert.match(await card.innerText(), /Escribe una sola palabra/);
  assert.equal(await page.inputValue('#text'), '', 'the starting text');
  await page.click('.exercise .hint summary');
  assert.match(await card.innerText(), /Pista/);
  await page.click('[data-testid=next-exercise]');
  await page.waitForSelector('[data-testid=exercise][data-exercise=one-vs-many]');
  // The counted tokenizers are shown.
  await page.waitForSelector('[data-tokenizer=llama3]');
  await page.selectOption('[data-testid=lang]', 'en');
  assert.match(await card.innerText(), /Find a word that is a single token/);
  // A link to this page opens the same exercise, in the same language.
  await page.fill('#text', 'Здравствуйте');
  await page.waitForSelector('[data-testid=exercise][data-solved=true]', { timeout: 60_000 });
  await page.waitForTimeout(500);
  const link = await page.evaluate(() => location.href);
  assert.ok(!link.includes('?'), 'the state is in the fragment');
  const other = await live.browser.newContext({ locale: 'es-ES' });
  const p2 = await other.newPage();
  await p2.goto(link);
  await p2.waitForSelector('[data-testid=exercise][data-exercise=one-vs-many][data-solved=true]', { timeout: 60_000 });
  assert.equal(await p2.inputValue('[data-testid=lang]'), 'en', "the link's language beats the browser's");
  assert.equal(await p2.inputValue('#text'), 'Здравствуйте', "the text stays, not the exercise's start");
  await other.close();
  await context.close();
});

test('the whole interface reads in Spanish, and switches back to English', async () => {
  const context = await live.browser.newContext({ locale: 'es-ES' });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(live.server.url);
  await page.locator('[data-testid=candidates] tbody tr').first().waitFor({ timeout: 120_000 });
  const body = () => page.locator('body').innerText();
  for (const es of ['Tu texto', 'Siguiente token', 'Muestreo', 'Temperatura', 'probabilidad', 'Entropía',
    'Lo que cuesta este texto', 'Ejercicios', 'Copiar enlace']) {
    assert.ok((await body()).includes(es), `"${es}" is on the Spanish page`);
  }
  assert.equal(await page.evaluate(() => document.documentElement.lang), 'es');
  await page.click('.cost summary');
  await page.locator('[data-testid=cost-table] tbody tr').first().waitFor({ timeout: 60_000 });
  assert.ok((await body()).includes('Detrás del precio'));
  await page.selectOption('[data-testid=lang]', 'en');
  for (const en of ['Your text', 'Next token', 'Sampling', 'probability', 'Entropy', 'Behind the price']) {
    assert.ok((await body()).includes(en), `"${en}" after switching to English`);
  }
  assert.equal(await page.evaluate(() => document.documentElement.lang), 'en');
  assert.deepEqual(errors, []);
  await context.close();
});
