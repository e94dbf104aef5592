// One service layer: for every kind of request, the page's worker (the core in wasm, in headless
// Chromium) and the CLI (the core natively) give the same answer — the same struct, compared
// field by field as JSON, not as pixels. The CPU path is bit-identical across targets, so even
// probabilities must match exactly. Only what describes the machine itself differs (the name of
// the CPU kernels, timings, how much of a prompt was already cached). The workers are the page's:
// the light tokens build, and the model worker with relaxed SIMD (Chromium has it) — and the plain
// build beside it, which must agree with it bit for bit.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  serveDist, launch, tokenmeterCli, tokenmeterCliLines, tokenmeterCliError, renderMsg, ROOT, workerUrl,
} from './harness.mjs';

let server;
let browser;
let page;
const MODEL_WAIT = 180_000;
/** What the page's workers wrote to the console. */
const workerConsole = [];

before(async () => {
  server = await serveDist();
  browser = await launch();
  page = await browser.newPage();
  page.on('worker', (w) => w.on('console', (m) => workerConsole.push(m.text())));
  await page.goto(server.url + '__blank.html');
  await page.evaluate(async (url) => {
    // Two workers, as the page runs them: one tokenizes and prices, one holds the model.
    const start = (url) => new Promise((ready) => {
      const worker = new Worker(url);
      const waiting = new Set();
      worker.onmessage = (ev) => {
        const m = JSON.parse(ev.data);
        if (m === 'Ready') ready(api);
        for (const w of [...waiting]) w(m);
      };
      const api = {
        worker,
        send: (m, file) => worker.postMessage(file ? [JSON.stringify(m), file] : JSON.stringify(m)),
        /** Every message until `done(m, seen)` is true; resolves with the messages seen. */
        until: (done) => new Promise((resolve) => {
          const seen = [];
          const w = (m) => { seen.push(m); if (done(m, seen)) { waiting.delete(w); resolve(seen); } };
          waiting.add(w);
        }),
      };
    });
    const tokens = await start(url + '&role=tokens');
    const model = await start(url);
    let seq = 0;
    const last = (seen) => seen[seen.length - 1];
    const failed = (m) => m.ColumnsFailed || m.CostFailed || m.NextFailed || m.ModelFailed
      || m.BenchFailed || m.TokenizerRejected;
    window.service = {
      async columns(req) {
        const s = ++seq;
        const done = tokens.until((m) => (m.Columns?.seq === s
          && m.Columns.columns.columns.every((c) => c.state !== 'Loading')) || m.ColumnsFailed?.seq === s);
        tokens.send({ Columns: { seq: s, req } });
        return last(await done);
      },
      /** `base64`: the file's bytes (a string crosses into the page quickly; an array of
       * numbers of an 11 MB file took a minute and a half). */
      async addTokenizer(id, name, base64) {
        const done = tokens.until((m) => m.TokenizerAdded || m.TokenizerRejected);
        const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
        tokens.send({ AddTokenizer: { id, name } }, new File([bytes], name));
        return last(await done);
      },
      async cost(req) {
        const s = ++seq;
        const done = tokens.until((m) => (m.Costs?.seq === s
          && m.Costs.report.models.every((r) => r.tokens !== null)
          && (!req.settings.physics_model || m.Costs.report.physics)) || m.CostFailed?.seq === s);
        tokens.send({ Cost: { seq: s, req } });
        return last(await done);
      },
      async load(backend) {
        const done = model.until((m) => m.ModelReady || m.ModelFailed);
        model.send({ LoadModel: { url: 'models/SmolLM2-135M-Instruct.Q4_1.gguf', backend } });
        return last(await done);
      },
      async next(req) {
        const s = ++seq;
        const done = model.until((m) => m.Scores?.seq === s || m.NextFailed?.seq === s);
        model.send({ Next: { seq: s, req } });
        return last(await done);
      },
      async generate(req) {
        const s = ++seq;
        const done = model.until((m) => m.GenerateDone?.seq === s || m.NextFailed?.seq === s);
        model.send({ Generate: { seq: s, req } });
        return (await done).filter((m) => m.Appended || m.NextFailed);
      },
      async inside(req) {
        const s = ++seq;
        const done = model.until((m) => m.Inside?.seq === s || m.InsideFailed?.seq === s);
        model.send({ Inside: { seq: s, req } });
        return last(await done);
      },
      async explain(tokenizer, req, compare) {
        const s = ++seq;
        const done = tokens.until((m) => m.Explained?.seq === s || m.ExplainFailed?.seq === s);
        tokens.send({ Explain: { seq: s, tokenizer, req, compare } });
        return last(await done);
      },
      /** Loads the model in another build's worker too (`query` on the loader's address:
       * `&simd=plain`, `&threads=N`), asks both the same `Next` requests, then stops it. */
      async otherBuild(query, reqs) {
        const other = await start(url + query);
        const loaded = other.until((m) => m.ModelReady || m.ModelFailed);
        other.send({ LoadModel: { url: 'models/SmolLM2-135M-Instruct.Q4_1.gguf', backend: 'cpu' } });
        const otherModel = last(await loaded);
        const pairs = [];
        for (const req of reqs) {
          const s = ++seq;
          const a = model.until((m) => m.Scores?.seq === s || m.NextFailed?.seq === s);
          const b = other.until((m) => m.Scores?.seq === s || m.NextFailed?.seq === s);
          model.send({ Next: { seq: s, req } });
          other.send({ Next: { seq: s, req } });
          pairs.push([last(await a), last(await b)]);
        }
        other.worker.terminate();
        return { otherModel, pairs };
      },
      /** A fresh model worker reads the file picked in `#own` (as the page's "Use your own
       * model" does) and answers `reqs`. */
      async ownModel(reqs) {
        const own = await start(url);
        const loaded = own.until((m) => m.ModelReady || m.ModelFailed);
        own.send({ LoadFile: { backend: 'cpu' } }, document.querySelector('#own').files[0]);
        const ready = last(await loaded);
        const answers = [];
        for (const req of reqs) {
          const s = ++seq;
          const done = own.until((m) => m.Scores?.seq === s || m.NextFailed?.seq === s);
          own.send({ Next: { seq: s, req } });
          answers.push(last(await done));
        }
        own.worker.terminate();
        return { ready, answers };
      },
      async bench(req) {
        const done = model.until((m) => m.BenchDone || m.BenchFailed);
        model.send({ Bench: req });
        return last(await done);
      },
    };
    window.failed = failed;
  }, workerUrl());
});

after(async () => {
  await browser?.close();
  await server?.close();
});

const ask = (method, ...args) => page.evaluate(([method, args]) => window.service[method](...args), [method, args]);
const without = (o, ...keys) => Object.fromEntries(Object.entries(o).filter(([k]) => !keys.includes(k)));
/** An answer without what describes the machine, wherever it sits: the CPU kernels' name and
 * threads (`backend.cpu`, `backend.threads`) and how much of the prompt was already in the cache. */
const answer = (v) => JSON.parse(JSON.stringify(v, (k, x) => (['cpu', 'threads', 'computed_tokens'].includes(k) ? undefined : x)));

const TEXT = 'Hola, mundo 你好 🌍\n\tThe capital of France is';

test('tokenize: each column of the page is what `tokenmeter tokenize` prints', async () => {
  const ids = ['smollm2', 'o200k_base', 'gemma3', 'claude-legacy'];
  const m = await ask('columns', { Tokenize: { text: TEXT, tokenizers: ids } });
  assert.ok(m.Columns, JSON.stringify(m));
  for (const column of m.Columns.columns.columns) {
    const cli = tokenmeterCli(['tokenize', '--tokenizer', column.tokenizer, '--text', TEXT]);
    assert.deepEqual(column.state.Tokens, cli, column.tokenizer);
  }
  // An unknown tokenizer: the same words in the page's column and on the CLI's standard error.
  const bad = await ask('columns', { Tokenize: { text: TEXT, tokenizers: ['nope'] } });
  const message = renderMsg(bad.Columns.columns.columns[0].state.Failed);
  assert.equal(tokenmeterCliError(['tokenize', '--tokenizer', 'nope', '--text', 'x']), `tokenmeter: ${message}`);
});

test('decode: each column in decode mode is what `tokenmeter decode` prints; a typo is the same error', async () => {
  const typed = '[9906, 1917, 0, 99999999]';
  const m = await ask('columns', { Decode: { ids: typed, tokenizers: ['llama3', 'smollm2'] } });
  for (const column of m.Columns.columns.columns) {
    assert.deepEqual(column.state.Decoded, tokenmeterCli(['decode', '--tokenizer', column.tokenizer, '--ids', typed]));
  }
  const bad = await ask('columns', { Decode: { ids: '1, x', tokenizers: ['llama3'] } });
  assert.equal(tokenmeterCliError(['decode', '--ids', '1, x']), `tokenmeter: ${renderMsg(bad.ColumnsFailed.message)}`);
});

test("load tokenizer: a user's file tokenizes in the page as `--tokenizer-file` does", async () => {
  const path = join(ROOT, 'data/tokenizers/qwen3.json');
  const added = await ask('addTokenizer', 'file:1', 'qwen3.json', readFileSync(path).toString('base64'));
  assert.equal(added.TokenizerAdded?.kind, 'tokenizer.json', JSON.stringify(added));
  const m = await ask('columns', { Tokenize: { text: TEXT, tokenizers: ['file:1'] } });
  assert.deepEqual(m.Columns.columns.columns[0].state.Tokens, tokenmeterCli(['tokenize', '--tokenizer-file', path, '--text', TEXT]));
  // Not a tokenizer: the same refusal.
  const junk = join(ROOT, 'Cargo.toml');
  const rejected = await ask('addTokenizer', 'file:2', 'Cargo.toml', readFileSync(junk).toString('base64'));
  assert.equal(tokenmeterCliError(['tokenize', '--tokenizer-file', junk, '--text', 'x']),
    `tokenmeter: ${renderMsg(rejected.TokenizerRejected.message)}`);
});

test('load model: the page worker and `tokenmeter model` describe the same model and engine', async () => {
  const ready = await ask('load', 'cpu');
  assert.ok(ready.ModelReady, JSON.stringify(ready));
  const cli = tokenmeterCli(['model', '--backend', 'cpu']);
  // Only the CPU kernels differ: wasm SIMD in the page, the native build in the CLI.
  const same = (s) => ({ ...without(s, 'backend', 'engine'), engine: without(s.engine, 'cpu', 'threads') });
  assert.deepEqual(same(ready.ModelReady.summary), same(cli));
  // Chromium validates relaxed SIMD, and this server sends COOP/COEP (the page is cross-origin
  // isolated), so on more than one core the loader started the threaded build with a thread per
  // core; the worker says so.
  const cores = await page.evaluate(() => navigator.hardwareConcurrency);
  const threads = Math.min(cores, 8);
  assert.equal(ready.ModelReady.summary.engine.threads, threads);
  assert.equal(ready.ModelReady.summary.backend, `wasm SIMD128 + relaxed dot, ${threads} thread${threads > 1 ? 's' : ''}`);
  assert.equal(ready.ModelReady.summary.engine.cpu, ready.ModelReady.summary.backend);
  assert.match(cli.engine.cpu, /^native CPU, \d+ threads?$/);
});

/** The CLI flags that say what a next-token request says. */
function nextArgs(req, { top = true } = {}) {
  return [
    '--backend', 'cpu', '--prompt', req.text, ...(top ? ['--top', String(req.top)] : []),
    '--temperature', String(req.sampler.temperature), '--top-k', String(req.sampler.top_k),
    '--top-p', String(req.sampler.top_p), '--seed', String(req.sampler.seed),
    ...(req.search && top ? ['--search', req.search] : []), ...(req.chat ? ['--chat'] : []), ...(req.bos ? ['--bos'] : []),
  ];
}

const REQUESTS = [
  { text: 'The capital of France is', chat: false, bos: false, continuation: [], top: 10,
    sampler: { temperature: 0.8, top_k: 0, top_p: 0.9, seed: 3 }, search: ' London', surprisal: false },
  { text: 'What is a token?', chat: true, bos: false, continuation: [], top: 25,
    sampler: { temperature: 1.3, top_k: 40, top_p: 1, seed: 11 }, search: '', surprisal: false },
  { text: 'Once upon a time', chat: false, bos: true, continuation: [], top: 1,
    sampler: { temperature: 0, top_k: 0, top_p: 0, seed: 0 }, search: 'dragon', surprisal: false },
];

test('next: the scores the page shows are what `tokenmeter next` prints, bit for bit', async () => {
  for (const req of REQUESTS) {
    const m = await ask('next', req);
    assert.ok(m.Scores, JSON.stringify(m));
    const cli = tokenmeterCli(['next', ...nextArgs(req)]);
    // How much of the prompt was already in the worker's cache is not part of the answer.
    assert.deepEqual(answer(m.Scores.scores), answer(cli), req.text);
  }
  // A setting out of range: the same message on both sides.
  const bad = { ...REQUESTS[0], sampler: { ...REQUESTS[0].sampler, top_p: 1.5 } };
  const failed = await ask('next', bad);
  assert.equal(tokenmeterCliError(['next', ...nextArgs(bad)]), `tokenmeter: ${renderMsg(failed.NextFailed.message)}`);
});

test('relaxed SIMD: the worker built with it scores exactly as the plain build', async () => {
  // Prefill runs four activation rows per weight block, decode four weight rows per activation:
  // a long prompt and short ones cover both loops, with Q4_1 and Q8_0 (both in the relaxed dot).
  const long = 'The relaxed dot product multiplies signed bytes by seven-bit ones. '.repeat(6);
  const reqs = [...REQUESTS, { ...REQUESTS[0], text: long, top: 50, surprisal: true }];
  const { otherModel: plainModel, pairs } = await ask('otherBuild', '&simd=plain', reqs);
  assert.equal(plainModel.ModelReady?.summary.backend, 'wasm SIMD128, 1 thread', JSON.stringify(plainModel));
  for (const [[relaxed, plain], req] of pairs.map((p, i) => [p, reqs[i]])) {
    assert.ok(relaxed.Scores && plain.Scores, JSON.stringify([relaxed, plain]).slice(0, 300));
    assert.deepEqual(answer(relaxed.Scores.scores), answer(plain.Scores.scores), req.text);
    assert.notEqual(relaxed.Scores.scores.backend.cpu, plain.Scores.scores.backend.cpu);
  }
  // Every position of the long prompt (its surprisal) agrees with the native CLI too.
  assert.deepEqual(answer(pairs[3][0].Scores.scores.surprisal), answer(tokenmeterCli(['surprisal', '--backend', 'cpu', '--text', long])));
});

test('relaxed SIMD: each form of the byte products gives the bits of the form the worker timed fastest', async () => {
  // The model worker timed the forms this build has on this machine and kept the fastest exact
  // one; Chromium computes all three exactly, so all three were timed.
  const said = workerConsole.find((l) => l.startsWith('tokenmeter: byte products in the fastest exact form: '));
  assert.ok(said, workerConsole.join('\n'));
  assert.deepEqual(said.match(/(widening|pairs|quads) [\d.]+ ms/g).map((f) => f.split(' ')[0]).sort(), ['pairs', 'quads', 'widening']);
  // Each form named on the worker's address, on one thread: the same scores for a long prompt
  // (prefill's tiles) and short ones (decode's rows), with Q4_1 and Q8_0 (the forms differ for
  // both).
  const long = 'Pairs of bytes or quads: the same integers either way. '.repeat(6);
  const reqs = [...REQUESTS, { ...REQUESTS[0], text: long, top: 50, surprisal: true }];
  for (const form of ['pairs', 'quads', 'widening']) {
    const { otherModel, pairs } = await ask('otherBuild', `&threads=1&dot=${form}`, reqs);
    const kernels = form === 'widening' ? 'wasm SIMD128' : 'wasm SIMD128 + relaxed dot';
    assert.equal(otherModel.ModelReady?.summary.backend, `${kernels}, 1 thread`, JSON.stringify(otherModel));
    for (const [[main, other], req] of pairs.map((p, i) => [p, reqs[i]])) {
      assert.ok(main.Scores && other.Scores, JSON.stringify([main, other]).slice(0, 300));
      assert.deepEqual(answer(main.Scores.scores), answer(other.Scores.scores), `${form}: ${req.text}`);
    }
  }
});

test('threads: the threaded build scores exactly as one thread, whatever the count', async () => {
  // The threaded build splits each large product's rows among its threads (prefill: every
  // product; decode: the output projection). A long prompt, and three threads, whose bands end
  // inside groups of four rows.
  const long = 'Threads share the rows of a product, never the terms of a sum. '.repeat(6);
  const reqs = [...REQUESTS, { ...REQUESTS[0], text: long, top: 50, surprisal: true }];
  const results = {};
  for (const query of ['&threads=1', '&threads=3']) {
    const { otherModel, pairs } = await ask('otherBuild', query, reqs);
    const want = query === '&threads=1' ? '1 thread' : '3 threads';
    assert.equal(otherModel.ModelReady?.summary.backend, `wasm SIMD128 + relaxed dot, ${want}`, JSON.stringify(otherModel));
    for (const [[main, other], req] of pairs.map((p, i) => [p, reqs[i]])) {
      assert.ok(main.Scores && other.Scores, JSON.stringify([main, other]).slice(0, 300));
      assert.deepEqual(answer(main.Scores.scores), answer(other.Scores.scores), `${query}: ${req.text}`);
      assert.equal(other.Scores.scores.backend.threads, query === '&threads=1' ? 1 : 3);
    }
    results[query] = pairs;
  }
  // And the native CLI's bits on every position of the long prompt.
  assert.deepEqual(answer(results['&threads=3'][3][1].Scores.scores.surprisal),
    answer(tokenmeterCli(['surprisal', '--backend', 'cpu', '--text', long])));
});

test('threads: a helper thread that stops inside a product stops the model worker, which the page restarts, instead of hanging it', async () => {
  // `&helper_fault=1` makes the first band a helper takes panic: wasm aborts there, as on a real
  // fault (a bug, memory run out), and that band never finishes. The helper's glue tells the
  // pool, so the step fails and the worker raises an error (the page's cue to restart it, with
  // the text kept: hardening.test.mjs) instead of spinning forever.
  const long = 'A helper that stops must not leave the others waiting for it. '.repeat(6);
  const outcome = await page.evaluate(async ([url, req]) => {
    const worker = new Worker(url);
    const send = (m) => worker.postMessage(JSON.stringify(m));
    const messages = [];
    const crashed = new Promise((resolve) => {
      worker.onerror = (ev) => { ev.preventDefault(); resolve(ev.message || 'an error event'); };
    });
    worker.onmessage = (ev) => {
      const m = JSON.parse(ev.data);
      messages.push(typeof m === 'string' ? m : Object.keys(m)[0]);
      if (m === 'Ready') send({ LoadModel: { url: 'models/SmolLM2-135M-Instruct.Q4_1.gguf', backend: 'cpu' } });
      if (m.ModelReady) send({ Next: { seq: 1, req } });
    };
    const hung = new Promise((resolve) => setTimeout(() => resolve(null), 90_000));
    const error = await Promise.race([crashed, hung]);
    worker.terminate();
    return { error, messages };
  }, [workerUrl() + '&threads=3&helper_fault=1', { ...REQUESTS[0], text: long }]);
  assert.ok(outcome.error !== null, `the worker hung: ${JSON.stringify(outcome.messages)}`);
  assert.match(outcome.error, /unreachable|RuntimeError|panic/i, outcome.error);
  assert.ok(!outcome.messages.includes('Scores'), JSON.stringify(outcome.messages));
  // The panic the test asked for, and the pool's own account of the lost helper.
  assert.ok(workerConsole.some((l) => l.includes('on purpose (a test\'s helper_fault)')), workerConsole.slice(-20).join('\n'));
  assert.ok(workerConsole.some((l) => l.includes('stopped inside a product')), workerConsole.slice(-20).join('\n'));
});

test('threads need cross-origin isolation: without COOP/COEP the loader starts the one-thread build, which works', async () => {
  const plainHost = await serveDist({ isolated: false });
  const other = await browser.newPage();
  try {
    await other.goto(plainHost.url + '__blank.html');
    const summary = await other.evaluate(async (url) => {
      const worker = new Worker(url);
      const send = (m) => worker.postMessage(JSON.stringify(m));
      const m = await new Promise((resolve) => {
        worker.onmessage = (ev) => {
          const m = JSON.parse(ev.data);
          if (m === 'Ready') send({ LoadModel: { url: 'models/SmolLM2-135M-Instruct.Q4_1.gguf', backend: 'cpu' } });
          else if (m.ModelReady || m.ModelFailed || m.Crashed) resolve(m);
        };
      });
      worker.terminate();
      return { isolated: self.crossOriginIsolated, m };
    }, workerUrl() + '&threads=2');
    assert.equal(summary.isolated, false);
    assert.equal(summary.m.ModelReady?.summary.backend, 'wasm SIMD128 + relaxed dot, 1 thread', JSON.stringify(summary.m).slice(0, 300));
  } finally {
    await other.close();
    await plainHost.close();
  }
});

test("own model: a user's GGUF read from a file scores as `tokenmeter next --model` does, bit for bit, in every layout", async () => {
  // K-quants (Q4_K, Q5_K, Q6_K), the legacy formats (Q5_1 via SmolLM2, Q5_0), floats (BF16, F16)
  // and the three architectures: the wasm kernels must give the native bits for each.
  const files = ['qwen3-Q4_K_M', 'qwen2-Q5_K_M', 'llama-BF16', 'qwen2-F16', 'smollm2-Q5_1'];
  await page.evaluate(() => {
    if (!document.querySelector('#own')) document.body.insertAdjacentHTML('beforeend', '<input type="file" id="own">');
  });
  const reqs = [REQUESTS[0], { ...REQUESTS[2], bos: false, search: '', top: 5 }];
  for (const name of files) {
    const path = join(ROOT, `data/test/models/${name}.gguf`);
    await page.setInputFiles('#own', path);
    const { ready, answers } = await ask('ownModel', reqs);
    assert.ok(ready.ModelReady, `${name}: ${JSON.stringify(ready).slice(0, 300)}`);
    const cliModel = tokenmeterCli(['model', '--model', path, '--backend', 'cpu']);
    const same = (s) => ({ ...without(s, 'backend', 'engine'), engine: without(s.engine, 'cpu', 'threads') });
    assert.deepEqual(same(ready.ModelReady.summary), same(cliModel), name);
    for (const [req, m] of reqs.map((r, i) => [r, answers[i]])) {
      assert.ok(m.Scores, `${name}: ${JSON.stringify(m).slice(0, 300)}`);
      assert.deepEqual(answer(m.Scores.scores), answer(tokenmeterCli(['next', '--model', path, ...nextArgs(req)])), `${name}: ${req.text}`);
    }
  }
  // A file tokenmeter does not run: the worker and the CLI refuse it in the same words.
  const refused = join(ROOT, 'data/test/models/refused-gemma.gguf');
  await page.setInputFiles('#own', refused);
  const { ready } = await ask('ownModel', []);
  const cli = tokenmeterCliError(['model', '--model', refused]).replace(`tokenmeter: ${refused}: `, '');
  assert.match(cli, /architecture "gemma"/);
  assert.equal(renderMsg(ready.ModelFailed.message), `refused-gemma.gguf cannot be used: ${cli}`);
});

test('inside: the lens and attention the panel shows are what `tokenmeter lens` and `attention` print', async () => {
  for (const text of ['Alice gave Bob a book because Bob', 'The capital of France is']) {
  // After the scores of the same text (the panel's case: the worker reuses their cache), and at
  // an earlier position.
  const scores = await ask('next', { ...REQUESTS[0], text, search: '', top: 5 });
  const last = await ask('inside', { text, chat: false, bos: false, continuation: [], position: null, top: 5 });
  // In wasm too, the last block's lens is the prediction itself: the same candidates, bit for bit.
  assert.deepEqual(last.Inside.inside.lens.layers[29].top.map((c) => [c.id, c.prob]),
    scores.Scores.scores.candidates.map((c) => [c.id, c.prob]));
  for (const position of [null, 3]) {
    const m = await ask('inside', { text, chat: false, bos: false, continuation: [], position, top: 5 });
    assert.ok(m.Inside, JSON.stringify(m));
    const at = position === null ? [] : ['--position', String(position)];
    const cli = (cmd) => tokenmeterCli([cmd, '--backend', 'cpu', '--prompt', text, ...at, ...(cmd === 'lens' ? ['--top', '5'] : [])]);
    // Only the CPU kernels' name differs: wasm SIMD in the page, the native build in the CLI.
    assert.deepEqual(without(m.Inside.inside.lens, 'computed_on'), without(cli('lens'), 'computed_on'));
    assert.deepEqual(without(m.Inside.inside.attention, 'computed_on'), without(cli('attention'), 'computed_on'));
  }
  }
  const text = 'Alice gave Bob a book because Bob';
  const bad = await ask('inside', { text, chat: false, bos: false, continuation: [], position: 99, top: 5 });
  assert.equal(tokenmeterCliError(['lens', '--backend', 'cpu', '--prompt', text, '--position', '99']), `tokenmeter: ${renderMsg(bad.InsideFailed.message)}`);
});

test('explain token: the panel shows what `tokenmeter explain-token` prints', async () => {
  const req = { text: 'Здравствуйте', id: null };
  const m = await ask('explain', 'smollm2', req, ['o200k_base', 'gemma3']);
  assert.ok(m.Explained, JSON.stringify(m));
  assert.deepEqual(m.Explained.explained, tokenmeterCli(['explain-token', '--tokenizer', 'smollm2', '--text', req.text, '--compare', 'o200k_base,gemma3']));
});

test('surprisal: the heatmap gets what `tokenmeter surprisal` prints', async () => {
  const text = 'The capital of France is Paris. The capital of Spain is Madrid.';
  const m = await ask('next', { ...REQUESTS[0], text, surprisal: true });
  assert.deepEqual(answer(m.Scores.scores.surprisal), answer(tokenmeterCli(['surprisal', '--backend', 'cpu', '--text', text])));
});

test('generate: Step and Run append the tokens `tokenmeter generate` prints, line for line', async () => {
  const req = { ...REQUESTS[0], text: 'Once upon a time', top: 5, search: '',
    sampler: { temperature: 1.2, top_k: 50, top_p: 0.95, seed: 7 } };
  const messages = await ask('generate', { ...req, max_tokens: 6, then_score: true });
  const page = messages.map((m) => m.Appended?.token ?? m);
  const lines = tokenmeterCliLines(['generate', ...nextArgs(req, { top: false }), '--max-tokens', '6']);
  assert.deepEqual(page, lines.slice(0, -1));
});

test('cost and gpu-cost: the cost panel prices what `tokenmeter cost` and `gpu-cost` print', async () => {
  const text = 'In short, tokens are the smallest unit an AI model works with.';
  const req = {
    text, models: ['gpt-4o', 'claude-sonnet-4-5', 'gemini/gemini-2.5-pro', 'deepseek/deepseek-chat'],
    settings: {
      search: '', output_tokens: 100, cached_share: 0.25, batch: true, requests_per_day: 500,
      physics_model: 'Llama 3.1 70B',
      assumptions: { gpu: 'h200', usd_per_gpu_hour: null, mfu: 0.35, batch: 8, pue: 1.3, usd_per_kwh: 0.2,
        bytes_per_param: 1, kv_bytes: 2 },
    },
    device: null, languages_for: [],
  };
  const m = await ask('cost', req);
  assert.ok(m.Costs, JSON.stringify(m));
  const a = ['--gpu', 'h200', '--mfu', '0.35', '--pue', '1.3', '--usd-per-kwh', '0.2', '--bytes-per-param', '1'];
  const cli = tokenmeterCli(['cost', '--text', text, ...req.models.flatMap((k) => ['--model', k]),
    '--output-tokens', '100', '--cached-share', '0.25', '--batch', '--requests-per-day', '500',
    '--physics-model', 'Llama 3.1 70B', '--batch-size', '8', ...a]);
  assert.deepEqual(m.Costs.report, cli);
  const physics = m.Costs.report.physics;
  assert.deepEqual(physics, tokenmeterCli(['gpu-cost', '--model', 'Llama 3.1 70B', '--tokens', String(physics.input_tokens),
    '--output-tokens', '100', '--batch', '8', ...a]));
});

test('bench: the benchmark runs the same prompt and decodes the same tokens', async () => {
  const m = await ask('bench', { prompt_tokens: 16, decode_tokens: 4, runs: 1 });
  assert.ok(m.BenchDone, JSON.stringify(m));
  // As many threads natively as the page's worker used (the threaded build: one per core).
  const cli = tokenmeterCli(['bench', '--backend', 'cpu', '--threads', String(m.BenchDone.threads), '--prompt-tokens', '16', '--decode-tokens', '4', '--runs', '1']);
  assert.ok(m.BenchDone.threads > 1, 'the threaded build ran the benchmark');
  const same = (b) => ({ engine: without(b.engine, 'cpu'), threads: b.threads, prompt_ids: b.prompt_ids, generated: b.result.generated });
  assert.deepEqual(same(m.BenchDone), same(cli));
  // Out of range: the same refusal.
  const bad = await ask('bench', { prompt_tokens: 0, decode_tokens: 4, runs: 1 });
  assert.equal(tokenmeterCliError(['bench', '--backend', 'cpu', '--prompt-tokens', '0']), `tokenmeter: ${renderMsg(bad.BenchFailed.message)}`);
});
