// Trunk's post-build hook (Trunk.toml [[hooks]]): makes the staged build versioned and strictly
// policed before it becomes dist/.
//
// 1. A build id: the sha256 of every built file's bytes, first 16 hex digits.
// 2. The worker's files get it in their names (worker-<id>.js, worker-<id>_bg.wasm), and the page
//    names it in <meta name="tokenmeter-build">: the page starts worker-loader.js?build=<id>, which
//    loads exactly those files, so new glue never meets an old wasm after a redeploy.
// 3. Trunk's inline start-up script moves to boot-<id>.js: no inline script is left, so the
//    Content-Security-Policy needs no 'unsafe-inline' (nor hashes).
// 4. sw.js gets the id: one Cache Storage bucket per build, filled all-or-nothing on install,
//    the others deleted on activate.
// 5. The policy: a <meta> in the HTML (a fallback for hosts that send no headers), and _headers
//    (Netlify / Cloudflare Pages) with the full policy as HTTP headers, including frame-ancestors
//    (only embed.html, the widget's copy of the page, may be framed by other sites) and the
//    workers' own policy (a worker's fetches follow its script's policy).
//
// Usage: Trunk runs it with TRUNK_STAGING_DIR set; `node scripts/post_build.mjs DIR` by hand.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync, readdirSync, renameSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.env.TRUNK_STAGING_DIR ?? process.argv[2];
if (!dir) throw new Error('post_build: no TRUNK_STAGING_DIR and no directory given');

const BUILT = /\.(js|wasm|css|html)$/;
const hash = createHash('sha256');
for (const name of readdirSync(dir).filter((n) => BUILT.test(n)).sort()) {
  if (statSync(join(dir, name)).isFile()) hash.update(name).update(readFileSync(join(dir, name)));
}
const id = hash.digest('hex').slice(0, 16);

// 2. The worker's files, named by the build.
const worker = `worker-${id}.js`;
const workerWasm = `worker-${id}_bg.wasm`;
renameSync(join(dir, 'worker.js'), join(dir, worker));
renameSync(join(dir, 'worker_bg.wasm'), join(dir, workerWasm));

// The policies. 'wasm-unsafe-eval' lets WebAssembly compile (no JavaScript eval is allowed).
const common = [
  "default-src 'self'", "script-src 'self' 'wasm-unsafe-eval'", "style-src 'self'",
  "img-src 'self' data:", "connect-src 'self'", "worker-src 'self'", "object-src 'none'",
  "base-uri 'self'", "form-action 'none'", "manifest-src 'self'",
];
const pagePolicy = [...common, "frame-ancestors 'none'"].join('; ');
const embedPolicy = [...common, 'frame-ancestors *'].join('; ');
const metaPolicy = common.join('; '); // frame-ancestors cannot be set from a <meta>
const workerPolicy = ["default-src 'self'", "script-src 'self' 'wasm-unsafe-eval'", "connect-src 'self'"].join('; ');

// 3. The inline start-up script, out of the HTML.
const htmlPath = join(dir, 'index.html');
let html = readFileSync(htmlPath, 'utf8');
const inline = /<script type="module">([\s\S]*?)<\/script>/.exec(html);
if (!inline) throw new Error('post_build: Trunk\'s start-up script is not in index.html');
const boot = `boot-${id}.js`;
writeFileSync(join(dir, boot), inline[1].trim() + '\n');
html = html.replace(inline[0], `<script type="module" src="./${boot}"></script>`);
if (/<script(?![^>]*\bsrc=)[^>]*>/.test(html)) throw new Error('post_build: an inline script is left in index.html');
html = html.replace(/<meta http-equiv="Content-Security-Policy" content="[^"]*"\s*\/?>/,
  `<meta http-equiv="Content-Security-Policy" content="${metaPolicy}" />`);
html = html.replace('<head>', `<head>\n  <meta name="tokenmeter-build" content="${id}" />`);
writeFileSync(htmlPath, html);
// The widget's entry: the same page, which other sites may frame.
writeFileSync(join(dir, 'embed.html'), html);

// 4. The service worker, per build.
const swPath = join(dir, 'sw.js');
const sw = readFileSync(swPath, 'utf8')
  .replace("'__BUILD__'", JSON.stringify(id))
  .replace("'__WORKER__'", JSON.stringify(worker))
  .replace("'__WORKER_WASM__'", JSON.stringify(workerWasm))
  .replace("'__BOOT__'", JSON.stringify(boot));
if (sw.includes('__BUILD__')) throw new Error('post_build: sw.js has no build placeholder left to fill');
writeFileSync(swPath, sw);

// 5. Headers for hosts that read _headers (paths from the site's root; see README for others).
const pageHeaders = (policy) => [
  `  Content-Security-Policy: ${policy}`,
  '  X-Content-Type-Options: nosniff',
  '  Referrer-Policy: no-referrer',
].join('\n');
writeFileSync(join(dir, '_headers'), [
  '# Written by scripts/post_build.mjs: the page, the widget and the workers, each with its policy.',
  '/', pageHeaders(pagePolicy),
  '/index.html', pageHeaders(pagePolicy),
  '/embed.html', pageHeaders(embedPolicy),
  '/worker-loader.js', `  Content-Security-Policy: ${workerPolicy}`,
  '/sw.js', `  Content-Security-Policy: ${workerPolicy}`,
  '/*', '  X-Content-Type-Options: nosniff',
  '',
].join('\n'));
if (!existsSync(join(dir, worker))) throw new Error('post_build: the worker is missing');
console.log(`post_build: build ${id}: ${worker}, ${boot}, sw.js, embed.html, _headers`);
