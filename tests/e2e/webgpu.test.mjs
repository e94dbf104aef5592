// The GPU path in the page: headless Chromium with --enable-unsafe-webgpu exposes SwiftShader, a
// software WebGPU adapter that reports isFallbackAdapter. Automatic choice must keep the model on
// wasm SIMD there (it is far faster); forcing WebGPU must run our WGSL kernels and give the
// scores the same kernels give natively (the CLI on Vulkan).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { serveDist, launch, tokenmeterCli, ROOT } from './harness.mjs';

const live = {};
before(async () => {
  live.server = await serveDist();
  live.browser = await launch(['--enable-unsafe-webgpu']);
});
after(async () => {
  await live.browser?.close();
  await live.server?.close();
});

async function open(query) {
  const context = await live.browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(live.server.url + query);
  return { context, page, errors };
}

async function status(page) {
  const s = page.locator('[data-testid=status]');
  await s.waitFor({ timeout: 300_000 });
  return { backend: await s.getAttribute('data-backend'), text: await s.textContent(),
    reason: await page.locator('[data-testid=backend-reason]').textContent() };
}

async function candidates(page) {
  const rows = page.locator('[data-testid=candidates] tbody tr');
  await rows.first().waitFor({ timeout: 300_000 });
  return rows.evaluateAll((trs) => trs.map((tr) => ({
    id: Number(tr.dataset.id), logit: Number(tr.dataset.logit),
  })));
}

test('automatic choice keeps the model on wasm SIMD when the only WebGPU adapter is a fallback', async () => {
  const { context, page, errors } = await open('');
  const hasAdapter = await page.evaluate(async () => {
    const a = await navigator.gpu?.requestAdapter();
    return a ? { fallback: a.isFallbackAdapter ?? a.info?.isFallbackAdapter } : null;
  });
  assert.ok(hasAdapter, 'Chromium exposes a WebGPU adapter with --enable-unsafe-webgpu');
  const s = await status(page);
  assert.equal(s.backend, 'cpu');
  assert.match(s.text, /wasm SIMD128/);
  // Chromium has relaxed SIMD and this server sends COOP/COEP: the loader started the threaded
  // build, a thread per core, and the status line names it.
  const cores = await page.evaluate(() => (crossOriginIsolated ? Math.min(navigator.hardwareConcurrency, 8) : 0));
  assert.ok(cores > 1, `cross-origin isolated on more than one core (${cores})`);
  assert.match(s.text, new RegExp(`wasm SIMD128 \\+ relaxed dot, ${cores} threads`));
  assert.match(s.reason, /software fallback/);
  assert.equal(await page.locator('[data-testid=backend]').inputValue(), 'auto');
  assert.deepEqual(errors, []);
  await context.close();
});

test('?simd=plain keeps the model worker without relaxed SIMD, and the status line says so', async () => {
  const { context, page, errors } = await open('?simd=plain&backend=cpu');
  const s = await status(page);
  assert.equal(s.backend, 'cpu');
  assert.match(s.text, /wasm SIMD128, 1 thread/);
  assert.doesNotMatch(s.text, /relaxed/);
  assert.ok(page.workers().some((w) => /[?&]simd=plain$/.test(w.url())), page.workers().map((w) => w.url()).join(' '));
  assert.deepEqual(errors, []);
  await context.close();
});

test('?threads=1 keeps the model worker on one thread, and the status line says so', async () => {
  const { context, page, errors } = await open('?threads=1&backend=cpu');
  const s = await status(page);
  assert.match(s.text, /wasm SIMD128 \+ relaxed dot, 1 thread/);
  assert.ok(page.workers().some((w) => /[?&]threads=1$/.test(w.url())), page.workers().map((w) => w.url()).join(' '));
  assert.deepEqual(errors, []);
  await context.close();
});

test('?backend=webgpu runs our WGSL kernels on the adapter and matches the native kernels', async () => {
  const { context, page, errors } = await open('?backend=webgpu');
  const s = await status(page);
  assert.equal(s.backend, 'webgpu', s.reason);
  assert.match(s.text, /WebGPU/);
  await page.fill('#text', 'The capital of France is');
  // Wait for the answer to this text (the default text's answer may come first).
  await page.waitForFunction(() => {
    const row = document.querySelector('[data-testid=candidates] tbody tr');
    return row && row.dataset.id === '7042' && !document.querySelector('.stale');
  }, null, { timeout: 300_000 });
  const rows = await candidates(page);
  const native = tokenmeterCli(['next', '--backend', 'webgpu', '--prompt', 'The capital of France is', '--top', '10']);
  assert.equal(native.backend.kind, 'webgpu');
  assert.deepEqual(rows.map((r) => r.id).slice(0, 3), native.candidates.map((c) => c.id).slice(0, 3));
  for (const [i, r] of rows.entries()) {
    const c = native.candidates.find((n) => n.id === r.id);
    assert.ok(c, `candidate ${i} (${r.id}) is in the native top-10 too`);
    // Same kernels on two software GPUs (SwiftShader here, llvmpipe natively): f32 rounding only.
    assert.ok(Math.abs(r.logit - c.logit) < 1e-3, `logit of ${r.id}: ${r.logit} vs ${c.logit}`);
  }
  // Back to the CPU from the status line: the page says so, the text stays.
  await page.selectOption('[data-testid=backend]', 'cpu');
  await page.waitForSelector('[data-testid=status][data-backend=cpu]', { timeout: 120_000 });
  assert.equal(await page.inputValue('#text'), 'The capital of France is');
  assert.deepEqual(errors, []);
  await context.close();
});

test("your own models on WebGPU: qwen2's biases, qwen3's head norms, Q5_K, Q6_K and BF16 weights give the native kernels' scores", async () => {
  const { context, page, errors } = await open('?backend=webgpu');
  assert.equal((await status(page)).backend, 'webgpu');
  await page.fill('#text', 'The capital of France is');
  for (const [name, arch] of [['qwen2-Q5_K_M', 'qwen2'], ['qwen3-Q4_K_M', 'qwen3'], ['llama-BF16', 'llama']]) {
    const path = join(ROOT, `data/test/models/${name}.gguf`);
    await page.setInputFiles('[data-testid=own-model]', path);
    await page.waitForFunction((a) => new RegExp(` · ${a} · `).test(document.querySelector('[data-testid=model-status]')?.textContent ?? ''),
      arch, { timeout: 300_000 });
    const s = await status(page);
    assert.equal(s.backend, 'webgpu', `${name}: ${s.reason}`);
    const native = tokenmeterCli(['next', '--model', path, '--backend', 'webgpu', '--prompt', 'The capital of France is', '--top', '10']);
    assert.equal(native.backend.kind, 'webgpu', name);
    await page.waitForFunction((id) => {
      const row = document.querySelector('[data-testid=candidates] tbody tr');
      return row && row.dataset.id === String(id) && !document.querySelector('.stale');
    }, native.candidates[0].id, { timeout: 300_000 });
    for (const r of await candidates(page)) {
      const c = native.candidates.find((n) => n.id === r.id);
      // Same kernels on two software GPUs (SwiftShader here, llvmpipe natively): f32 rounding only.
      if (c) assert.ok(Math.abs(r.logit - c.logit) < 1e-3, `${name}: logit of ${r.id}: ${r.logit} vs ${c.logit}`);
    }
    await page.click('[data-testid=back-to-shipped]');
    await page.waitForFunction(() => / · llama · 135 M/.test(document.querySelector('[data-testid=model-status]')?.textContent ?? ''),
      null, { timeout: 300_000 });
  }
  assert.deepEqual(errors, []);
  await context.close();
});

test('inside the model on WebGPU: the lens and attention read back from our kernels match the native kernels', async () => {
  const { context, page, errors } = await open('?backend=webgpu');
  assert.equal((await status(page)).backend, 'webgpu');
  await page.fill('#text', 'The capital of France is');
  await page.click('[data-testid=inside] summary');
  await page.waitForFunction(() => /WebGPU/.test(document.querySelector('[data-testid=inside-status]')?.textContent ?? ''),
    null, { timeout: 300_000 });
  const rows = await page.$$eval('[data-testid=lens] tbody tr', (trs) => trs.map((r) =>
    [...r.querySelectorAll('td.cell')].map((c) => ({ id: Number(c.dataset.id), prob: Number(c.dataset.prob) }))));
  const native = tokenmeterCli(['lens', '--backend', 'webgpu', '--prompt', 'The capital of France is', '--top', '5']);
  assert.match(native.computed_on, /WebGPU/);
  assert.equal(rows.length, 30);
  assert.equal(rows[29][0].id, native.answer.id, 'the same answer');
  for (const [i, row] of rows.entries()) {
    for (const c of row) {
      const n = native.layers[i].top.find((t) => t.id === c.id);
      // Same kernels on two software GPUs (SwiftShader here, llvmpipe natively): f32 rounding only.
      if (n) assert.ok(Math.abs(n.prob - c.prob) < 1e-3, `block ${i + 1}, token ${c.id}: ${c.prob} vs ${n.prob}`);
    }
  }
  assert.deepEqual(errors, []);
  await context.close();
});

test('a GPU lost mid-run falls back to wasm SIMD, says so, and keeps the text', async () => {
  const { context, page, errors } = await open('?backend=webgpu');
  assert.equal((await status(page)).backend, 'webgpu');
  await page.locator('[data-testid=candidates] tbody tr').first().waitFor({ timeout: 300_000 });
  // From now on every read-back from the GPU fails, as it does when the device is lost. (Not in
  // the threaded build's helper workers: they run the CPU pool and never touch the GPU, and a
  // helper's JavaScript never gets a turn to evaluate anything.)
  for (const w of page.workers().filter((w) => !/[?&]role=thread\b/.test(w.url()))) {
    await w.evaluate(() => {
      if (self.GPUBuffer) {
        GPUBuffer.prototype.mapAsync = function () {
          return Promise.reject(new DOMException('the device was lost (test)', 'OperationError'));
        };
      }
    });
  }
  await page.fill('#text', 'The capital of Spain is');
  const notice = page.locator('[data-testid=backend-notice]');
  await notice.waitFor({ timeout: 300_000 });
  assert.match(await notice.textContent(), /continuing on the CPU/);
  await page.waitForSelector('[data-testid=status][data-backend=cpu]');
  assert.equal(await page.inputValue('#text'), 'The capital of Spain is');
  // The answer now comes from the CPU path: the CLI's CPU logits, bit for bit.
  await page.waitForFunction(() => document.querySelector('.scores')?.dataset.stale === 'false'
    && document.querySelector('[data-testid=candidates] tbody tr')?.dataset.id === '28030', null, { timeout: 120_000 });
  const rows = await candidates(page);
  const native = tokenmeterCli(['next', '--backend', 'cpu', '--prompt', 'The capital of Spain is', '--top', '10']);
  assert.deepEqual(rows.map((r) => [r.id, Math.fround(r.logit)]), native.candidates.map((c) => [c.id, Math.fround(c.logit)]));
  assert.deepEqual(errors, []);
  await context.close();
});
