// Shared by the browser tests: a static server for dist/ (with fault injection) and Chromium.
import { createServer } from 'node:http';
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { extname, join, normalize, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const DIST = join(ROOT, 'dist');

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript',
  '.css': 'text/css', '.wasm': 'application/wasm', '.json': 'application/json',
  '.gguf': 'application/octet-stream',
};

/** The build id of dist/ (scripts/post_build.mjs), and the URL that starts one of its workers. */
export function buildId(dist = DIST) {
  const m = /<meta name="tokenmeter-build" content="([0-9a-f]{16})"/.exec(readFileSync(join(dist, 'index.html'), 'utf8'));
  if (!m) throw new Error('dist/index.html names no build: was it built by trunk with the post-build hook?');
  return m[1];
}
export const workerUrl = (dist = DIST) => `./worker-loader.js?build=${buildId(dist)}`;

/**
 * The headers dist/_headers gives a path (relative to the site's root, as Netlify and
 * Cloudflare Pages read it): exact paths, then `/*`.
 */
function headersFor(dist, rel) {
  const file = join(dist, '_headers');
  if (!existsSync(file)) return {};
  const rules = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim() || line.startsWith('#')) continue;
    if (!/^\s/.test(line)) rules.push({ path: line.trim(), headers: {} });
    else {
      const [k, ...v] = line.trim().split(':');
      rules[rules.length - 1].headers[k.trim().toLowerCase()] = v.join(':').trim();
    }
  }
  const path = '/' + (rel === 'index.html' ? '' : rel);
  const out = {};
  for (const r of rules) {
    if (r.path === path || (rel === 'index.html' && r.path === '/index.html') || r.path === '/*') {
      for (const [k, v] of Object.entries(r.headers)) if (!(k in out)) out[k] = v;
    }
  }
  return out;
}

/**
 * Serves dist/ on 127.0.0.1 (a free port) under `prefix` (e.g. '/' or '/some/path/'), with the
 * headers of dist/_headers (its strict Content-Security-Policy among them). `faults` can be
 * changed while running: { model: '404' | 'abort' | 'truncate' | 'garbage' | 'slow' |
 * 'tampered', wasm: 'corrupt' }. `dist` may name another build (the redeploy test swaps it).
 */
export async function serveDist({ prefix = '/', dist = DIST, isolated = true } = {}) {
  if (!existsSync(join(dist, 'index.html'))) throw new Error('dist/ is not built: run ./dev test');
  const site = { dist };
  const faults = {};
  const requests = [];
  const server = createServer((req, res) => {
    requests.push(req.url);
    // The network is down: every request fails as a dropped connection would.
    if (faults.offline) { req.socket.destroy(); return; }
    const url = new URL(req.url, 'http://x');
    if (!url.pathname.startsWith(prefix)) { res.writeHead(404).end(); return; }
    let rel = decodeURIComponent(url.pathname.slice(prefix.length)) || 'index.html';
    if (rel === '__data/parity/corpus.json') {
      // The parity corpus (written by `cargo xtask vocab`), for the browser parity test.
      const corpus = join(ROOT, 'data/parity/corpus.json');
      res.writeHead(200, { 'content-type': TYPES['.json'] }).end(readFileSync(corpus));
      return;
    }
    if (rel.startsWith('__bench/') || rel.startsWith('__node_modules/')) {
      // Benchmark inputs (target/bench) and reference encoders (tests/e2e/node_modules).
      const base = rel.startsWith('__bench/') ? join(ROOT, 'target/bench') : join(ROOT, 'tests/e2e/node_modules');
      const path = normalize(join(base, rel.slice(rel.indexOf('/') + 1)));
      if (!path.startsWith(base) || !existsSync(path)) { res.writeHead(404).end(); return; }
      res.writeHead(200, { 'content-type': TYPES[extname(path)] ?? 'application/octet-stream' }).end(readFileSync(path));
      return;
    }
    if (rel === '__blank.html') {
      // An empty page of this origin, for driving a worker without the app (benchmarks).
      // Cross-origin isolated like the site (unless `isolated: false`): the threaded worker.
      const isolation = isolated
        ? { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' } : {};
      res.writeHead(200, { 'content-type': TYPES['.html'], ...isolation }).end('<!doctype html><title>blank</title>');
      return;
    }
    const root = site.dist;
    const file = normalize(join(root, rel));
    if (!file.startsWith(root) || !existsSync(file) || statSync(file).isDirectory()) {
      res.writeHead(404).end('not found'); return;
    }
    const type = TYPES[extname(file)] ?? 'application/octet-stream';
    const size = statSync(file).size;
    for (const [k, v] of Object.entries(headersFor(root, rel))) {
      // `isolated: false`: a host that sends no COOP/COEP (the page then runs one thread).
      if (!isolated && /^cross-origin-(opener|embedder)-policy$/.test(k)) continue;
      res.setHeader(k, v);
    }
    if (file.endsWith('.gguf') && faults.model) {
      if (faults.model === '404') { res.writeHead(404).end('not found'); return; }
      if (faults.model === 'slow') {
        // About 2 MB/s: a download that is still going when the test acts.
        res.writeHead(200, { 'content-type': type, 'content-length': size });
        const stream = createReadStream(file, { highWaterMark: 64 * 1024 });
        stream.on('data', (chunk) => {
          stream.pause();
          res.write(chunk);
          setTimeout(() => stream.resume(), 30);
        });
        stream.on('end', () => res.end());
        res.on('close', () => stream.destroy());
        return;
      }
      if (faults.model === 'tampered') {
        // The real file with one byte changed: still a loadable GGUF, not the published one.
        const bytes = Buffer.from(readFileSync(file));
        bytes[bytes.length - 7] ^= 0x01;
        res.writeHead(200, { 'content-type': type, 'content-length': bytes.length }).end(bytes); return;
      }
      if (faults.model === 'garbage') {
        const junk = Buffer.from('this is not a model file, just some bytes '.repeat(100));
        res.writeHead(200, { 'content-type': type, 'content-length': junk.length }).end(junk); return;
      }
      // 'abort' cuts the connection mid-body; 'truncate' sends a short but complete-looking body.
      const cut = Math.floor(size / 3);
      const headers = { 'content-type': type, 'content-length': faults.model === 'abort' ? size : cut };
      res.writeHead(200, headers);
      const stream = createReadStream(file, { start: 0, end: cut - 1 });
      stream.pipe(res, { end: false });
      stream.on('end', () => (faults.model === 'abort' ? res.destroy() : res.end()));
      return;
    }
    if (/(worker|worker-relaxed|worker-threads|tokens)-[0-9a-f]{16}_bg\.wasm$/.test(file) && faults.wasm === 'corrupt') {
      const bytes = readFileSync(file).subarray(0, 1000);
      res.writeHead(200, { 'content-type': type, 'content-length': bytes.length }).end(bytes); return;
    }
    res.writeHead(200, { 'content-type': type, 'content-length': size });
    createReadStream(file).pipe(res);
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const origin = `http://127.0.0.1:${server.address().port}`;
  return {
    url: origin + prefix, origin, faults, requests, site,
    close: () => new Promise((ok) => server.close(ok)),
  };
}

/**
 * Debian's Chromium, headless, with no network of its own. Playwright gives every launch a fresh,
 * empty profile directory (it refuses a --user-data-dir argument for that reason).
 */
export async function launch(extraArgs = []) {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      ...extraArgs,
    ],
  });
  // Every page and worker runs under the strict Content-Security-Policy of dist/_headers; any
  // violation is recorded (see `cspViolations`) and fails the test file.
  const newContext = browser.newContext.bind(browser);
  browser.newContext = async (options) => watchCsp(await newContext(options));
  const newPage = browser.newPage.bind(browser);
  browser.newPage = async (options) => {
    const page = await newPage(options);
    watchCsp(page.context());
    return page;
  };
  return browser;
}

/** Content-Security-Policy violations seen in any page or worker (a test file must end with none). */
export const cspViolations = [];

function watchCsp(context) {
  if (context.__cspWatched) return context;
  context.__cspWatched = true;
  context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) =>
      console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI} in ${e.sourceFile}:${e.lineNumber}`));
  });
  // The last console lines of the context's pages and workers, for `pageState` after a failure.
  context.__log = [];
  const record = (where) => (msg) => {
    const text = msg.text();
    if (/CSP violation|Content Security Policy|Refused to (load|execute|apply|connect|create|frame)/.test(text)) cspViolations.push(text);
    context.__log.push(`${where} ${msg.type()}: ${text.slice(0, 300)}`);
    if (context.__log.length > 40) context.__log.shift();
  };
  const watchPage = (page) => {
    // A wait that times out says where the page stood (see `pageState`).
    for (const name of ['waitForFunction', 'waitForSelector']) {
      const wait = page[name].bind(page);
      page[name] = async (...args) => {
        try {
          return await wait(...args);
        } catch (e) {
          if (e.name === 'TimeoutError') e.message += `\n${await pageState(page)}`;
          throw e;
        }
      };
    }
    page.on('console', record('page'));
    page.on('pageerror', (e) => context.__log.push(`page error: ${e.message}`));
    page.on('worker', (w) => {
      w.on?.('console', record(`worker ${w.url().replace(/^.*\//, '').slice(0, 60)}`));
      w.on?.('close', () => context.__log.push(`worker closed: ${w.url().replace(/^.*\//, '').slice(0, 60)}`));
    });
  };
  context.pages().forEach(watchPage);
  context.on('page', watchPage);
  return context;
}

/**
 * Registers hooks that start the dist/ server and Chromium before a test file and stop them
 * after; the returned object holds them (`.server`, `.browser`) while the tests run.
 */
export function useBrowser() {
  const live = {};
  before(async () => {
    live.server = await serveDist();
    live.browser = await launch();
  });
  after(async () => {
    await live.browser?.close();
    await live.server?.close();
    assert.deepEqual(cspViolations, [], 'no Content-Security-Policy violation in any page or worker');
  });
  return live;
}

/**
 * What a user would see of the page's state, and the last console lines of its pages and
 * workers: appended to a wait that timed out, so that a failure on CI says where it stood.
 */
export async function pageState(page) {
  const seen = await page.evaluate(() => {
    const text = (sel) => [...document.querySelectorAll(sel)].map((e) => e.textContent.trim().slice(0, 200)).filter(Boolean);
    return {
      status: text('[role=status], [role=alert], .notice, .error'),
      model: text('[data-testid=model-status]'),
      generated: document.querySelectorAll('[data-testid=continuation] .gen').length,
      scores: document.querySelector('.scores')?.dataset.stale ?? 'none',
      step: document.querySelector('[data-testid=step]')?.getAttribute('aria-disabled') ?? 'none',
      // The panel inside the model: open or not, and what it says (its wait, its notice, or its
      // answer's first words).
      inside: (() => {
        const panel = document.querySelector('details[data-testid=inside]');
        if (!panel) return 'none';
        const said = document.querySelector('[data-testid=inside-announce]')?.textContent ?? '';
        const shown = panel.open ? panel.innerText.replace(/\s+/g, ' ').slice(-160) : '';
        return { open: panel.open, said, shown };
      })(),
    };
  }).catch((e) => ({ unreadable: e.message }));
  // The workers running (the model worker's pool helpers among them), by their address's query.
  const workers = page.workers().map((w) => w.url().replace(/^.*\?/, '?'));
  return `page state: ${JSON.stringify(seen)}\nworkers: ${JSON.stringify(workers)}\nconsole (last lines):\n  ${(page.context().__log ?? []).join('\n  ')}`;
}

/** Every URL the page (and its workers) asked for, to check none left the origin. */
export function recordRequests(context) {
  const urls = [];
  context.on('request', (r) => urls.push(r.url()));
  return urls;
}

/**
 * Runs the native CLI built by `cargo test` (or `cargo build --release`) and parses its JSON
 * (for JSON-lines output such as `generate`, the last line: the summary).
 */
export function tokenmeterCli(args) {
  const lines = tokenmeterCliLines(args);
  return lines[lines.length - 1];
}

/** Every JSON line the CLI prints (`generate` prints one per token, then the summary). */
export function tokenmeterCliLines(args) {
  const lines = execFileSync(cliPath(), args, { encoding: 'utf8' }).trim().split('\n');
  return lines.map((l) => JSON.parse(l));
}

/** What the CLI prints on standard error for a request it refuses. */
export function tokenmeterCliError(args) {
  try {
    execFileSync(cliPath(), args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    return e.stderr.trim();
  }
  throw new Error(`tokenmeter ${args.join(' ')} succeeded`);
}

function cliPath() {
  const bin = ['target/debug/tokenmeter', 'target/release/tokenmeter']
    .map((p) => join(ROOT, p)).find((p) => existsSync(p));
  if (!bin) throw new Error('the tokenmeter CLI is not built: run ./dev test');
  return bin;
}

/** A core message (`{ key, args }`) in English, as the CLI prints it. */
export function renderMsg(m) {
  const args = (m.args ?? []).map((a) => (typeof a === 'string' ? a : renderMsg(a)));
  let i = 0;
  return m.key.replace(/\{\}/g, () => args[i++] ?? '');
}

/** FNV-1a (32-bit) of token IDs, as crates/core/tests/parity.rs and scripts/parity_reference.py. */
export function fnv1a(ids) {
  let h = 0x811c9dc5;
  const word = (v) => {
    for (let i = 0; i < 4; i++) h = Math.imul(h ^ ((v >>> (8 * i)) & 0xff), 0x01000193) >>> 0;
  };
  word(ids.length);
  ids.forEach(word);
  return h >>> 0;
}

export function fixture(name) {
  return JSON.parse(readFileSync(join(ROOT, 'tests/fixtures', name), 'utf8'));
}
