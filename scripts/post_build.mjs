// Trunk's post-build hook (Trunk.toml [[hooks]]): makes the staged build versioned and strictly
// policed before it becomes dist/.
//
// 0a. The full worker once more with relaxed SIMD (`+relaxed-simd`: the Q4_1 dot in one
//    instruction, exact — see crates/core/src/model/quant/simd128.rs): worker-relaxed.js + its
//    wasm, built by cargo and wasm-bindgen. Only the workspace's own crates get the feature
//    (scripts/relaxed-rustc.sh, cargo's RUSTC_WORKSPACE_WRAPPER): no dependency has a
//    relaxed-SIMD path, so they are compiled exactly as for Trunk's plain worker and this build
//    reuses them from target/ (cargo keeps the wrapped crates apart: the wrapper is part of their
//    file names' hash). worker-loader.js picks it where the browser validates a relaxed-SIMD
//    module, the plain one elsewhere (or with `&simd=plain`). TOKENMETER_RELAXED=0 skips it.
// 0b. The full worker a third time, threaded (relaxed SIMD + `+atomics,+bulk-memory,+mutable-globals`:
//    shared memory, so the forward pass's pool runs on helper Web Workers — crates/core/src/model/pool.rs,
//    src/worker/pool.rs):
//    worker-threads.js + its wasm, in target/threads. The standard library must be rebuilt with
//    atomics, which needs a nightly toolchain (`-Z build-std`; ./dev setup installs the pinned one,
//    TOKENMETER_NIGHTLY). The memory may grow to wasm32's 4 GiB (a shared memory must declare its
//    maximum). worker-loader.js picks it only where the page is cross-origin isolated.
//    TOKENMETER_THREADS=0 skips it (and needs no nightly).
// 0. wasm-opt -O3 (npm `binaryen`, pinned in tools/package.json; ./dev setup installs it) on every
//    wasm: the page, the full workers and the light one (while 0a and 0b build). Binaryen keeps IEEE semantics (no
//    fast-math), so the logits stay bit-identical (tests/e2e/service.test.mjs checks them against
//    the native CLI). TOKENMETER_WASM_OPT=0 skips it for a quick local build.
// 1. A build id: the sha256 of every built file's bytes, first 16 hex digits.
// 2. The workers' files get it in their names (worker-<id>.js, worker-<id>_bg.wasm, and the light
//    tokens-<id>.*), and the page names it in <meta name="tokenmeter-build">: the page starts
//    worker-loader.js?build=<id>[&role=tokens], which loads exactly those files, so new glue never
//    meets an old wasm after a redeploy.
// 3. Trunk's inline start-up script moves to boot-<id>.js: no inline script is left, so the
//    Content-Security-Policy needs no 'unsafe-inline' (nor hashes).
// 4. sw.js gets the id: one Cache Storage bucket per build, filled all-or-nothing on install,
//    the others deleted on activate.
// 5. The policy: a <meta> in the HTML (a fallback for hosts that send no headers), and _headers
//    (Netlify / Cloudflare Pages) with the full policy as HTTP headers, including frame-ancestors
//    (only embed.html, the widget's copy of the page, may be framed by other sites), the
//    workers' own policy (a worker's fetches follow its script's policy) and cross-origin
//    isolation (COOP/COEP: the threaded worker; without them the page runs one thread).
//
// Usage: Trunk runs it with TRUNK_STAGING_DIR set; `node scripts/post_build.mjs DIR` by hand.
// `node scripts/post_build.mjs --rustflags threads` prints the threaded worker build's flags
// (CARGO_ENCODED_RUSTFLAGS), for `./dev lint` to run clippy on exactly that build.
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync, readdirSync, renameSync, statSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

// The threaded worker's flags: those of .cargo/config.toml plus relaxed SIMD and atomics (the
// relaxed worker has Trunk's flags, and relaxed SIMD for the workspace's crates only: 0a).
// Since Rust 1.92, `+atomics` alone no longer makes the memory shared (rust-lang/rust#147225):
// the linker is asked for a shared, imported memory, and for the thread-local storage symbols
// wasm-bindgen's thread support initialises in each instance.
const RUSTFLAGS = {
  threads: ['-C', 'target-feature=+simd128,+relaxed-simd,+atomics,+bulk-memory,+mutable-globals',
    ...['--shared-memory', '--import-memory', '--max-memory=4294967296', '--export=__wasm_init_tls',
      '--export=__tls_size', '--export=__tls_align', '--export=__tls_base'].flatMap((a) => ['-C', `link-arg=${a}`]),
    '--cfg', 'getrandom_backend="wasm_js"'],
};
if (process.argv[2] === '--rustflags') {
  const flags = RUSTFLAGS[process.argv[3]];
  if (!flags) throw new Error(`post_build: no build named ${process.argv[3]}`);
  process.stdout.write(flags.join('\x1f'));
  process.exit(0);
}

const dir = process.env.TRUNK_STAGING_DIR ?? process.argv[2];
if (!dir) throw new Error('post_build: no TRUNK_STAGING_DIR and no directory given');

const run = promisify(execFile);
const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * The full worker once more, then wasm-bindgen: <out>.js + <out>_bg.wasm in the staging
 * directory. `target`: its own cargo target directory (under target/) with its own `rustflags`,
 * or none: Trunk's, with Trunk's flags (.cargo/config.toml), and `env` added.
 */
async function buildWorker(out, { target, rustflags, env = {}, toolchain, buildStd = false }) {
  const targetDir = target ? join(root, 'target', target) : (process.env.CARGO_TARGET_DIR ?? join(root, 'target'));
  const toolchainArgs = toolchain ? [`+${toolchain}`] : [];
  const buildStdArgs = buildStd ? ['-Z', 'build-std=std,panic_abort'] : [];
  console.log(`post_build: ${['cargo', ...toolchainArgs, 'build', ...buildStdArgs].join(' ')} --release --bin worker (${out}) in ${targetDir}`);
  await run('cargo', [...toolchainArgs, 'build', '--quiet', '--release', '--target', 'wasm32-unknown-unknown',
    ...buildStdArgs, '--bin', 'worker'], {
    cwd: root, maxBuffer: 1 << 26,
    env: { ...process.env, CARGO_TARGET_DIR: targetDir, ...env,
      ...(rustflags ? { CARGO_ENCODED_RUSTFLAGS: rustflags.join('\x1f') } : {}),
      ...(toolchain ? { RUSTUP_TOOLCHAIN: toolchain } : {}) },
  });
  await run('wasm-bindgen', ['--target', 'no-modules', '--no-typescript', '--out-dir', dir, '--out-name', out,
    join(targetDir, 'wasm32-unknown-unknown', 'release', 'worker.wasm')], { cwd: root, maxBuffer: 1 << 24 });
}

// wasm-opt on one built file (0 below), in place.
const optimize = process.env.TOKENMETER_WASM_OPT !== '0';
const wasmOpt = join(root, 'tools', 'node_modules', '.bin', 'wasm-opt');
if (optimize && !existsSync(wasmOpt)) throw new Error(`post_build: ${wasmOpt} is missing (./dev setup installs it)`);
async function optimizeWasm(name) {
  if (!optimize) return;
  const path = join(dir, name);
  const before = statSync(path).size;
  await run(wasmOpt, ['-O3', path, '-o', path], { maxBuffer: 1 << 24 });
  console.log(`post_build: wasm-opt -O3 ${name}: ${before} → ${statSync(path).size} bytes`);
}

// Everything at once: the two extra workers build side by side (each ends in a long
// single-threaded link, LTO with one codegen unit), and wasm-opt works on Trunk's files
// meanwhile, then on each extra worker as soon as it is built. On two cores this takes
// minutes off a fresh build (CI), and the files are the same as one after the other.
const jobs = readdirSync(dir).filter((n) => n.endsWith('.wasm')).map(optimizeWasm);

// 0a. The relaxed-SIMD worker (Trunk's flags; relaxed-simd for the workspace's crates).
const relaxed = process.env.TOKENMETER_RELAXED !== '0';
if (relaxed) {
  jobs.push(buildWorker('worker-relaxed', { env: { RUSTC_WORKSPACE_WRAPPER: join(root, 'scripts', 'relaxed-rustc.sh') } })
    .then(() => optimizeWasm('worker-relaxed_bg.wasm')));
}

// 0b. The threaded worker.
const threads = relaxed && process.env.TOKENMETER_THREADS !== '0';
if (threads) {
  jobs.push(buildWorker('worker-threads', { target: 'threads', rustflags: RUSTFLAGS.threads,
    toolchain: process.env.TOKENMETER_NIGHTLY ?? 'nightly-2026-05-20', buildStd: true }) // as ./dev's NIGHTLY
    .then(() => optimizeWasm('worker-threads_bg.wasm')));
}
// (Every job ends before a failure is reported: no build is left running.)
const failed = (await Promise.allSettled(jobs)).find((r) => r.status === 'rejected');
if (failed) throw failed.reason;

const BUILT = /\.(js|wasm|css|html)$/;
const hash = createHash('sha256');
for (const name of readdirSync(dir).filter((n) => BUILT.test(n)).sort()) {
  if (statSync(join(dir, name)).isFile()) hash.update(name).update(readFileSync(join(dir, name)));
}
const id = hash.digest('hex').slice(0, 16);

// 2. The workers' files, named by the build: <name>.js and <name>_bg.wasm become
//    <name>-<id>.js and <name>-<id>_bg.wasm.
const version = (name) => {
  const [js, wasm] = [`${name}-${id}.js`, `${name}-${id}_bg.wasm`];
  renameSync(join(dir, `${name}.js`), join(dir, js));
  renameSync(join(dir, `${name}_bg.wasm`), join(dir, wasm));
  return [js, wasm];
};
const [worker, workerWasm] = version('worker');
const [tokens, tokensWasm] = version('tokens');
const [relaxedJs, relaxedWasm] = relaxed ? version('worker-relaxed') : ['', ''];
const [threadsJs, threadsWasm] = threads ? version('worker-threads') : ['', ''];

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

// The loader knows whether the relaxed worker exists.
const loaderPath = join(dir, 'worker-loader.js');
const loader = readFileSync(loaderPath, 'utf8');
for (const p of ["'__RELAXED_BUILT__'", "'__THREADS_BUILT__'"]) {
  if (!loader.includes(p)) throw new Error(`post_build: worker-loader.js has no ${p} placeholder`);
}
writeFileSync(loaderPath, loader.replace("'__RELAXED_BUILT__'", String(relaxed)).replace("'__THREADS_BUILT__'", String(threads)));

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
  .replace("'__TOKENS__'", JSON.stringify(tokens))
  .replace("'__TOKENS_WASM__'", JSON.stringify(tokensWasm))
  .replace("'__RELAXED__'", relaxed ? JSON.stringify(relaxedJs) : "''")
  .replace("'__RELAXED_WASM__'", relaxed ? JSON.stringify(relaxedWasm) : "''")
  .replace("'__THREADS__'", threads ? JSON.stringify(threadsJs) : "''")
  .replace("'__THREADS_WASM__'", threads ? JSON.stringify(threadsWasm) : "''")
  .replace("'__BOOT__'", JSON.stringify(boot));
if (/'__[A-Z_]+__'/.test(sw)) throw new Error('post_build: sw.js has a placeholder left unfilled');
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
  // Cross-origin isolation (COOP + COEP) makes SharedArrayBuffer available: the threaded model
  // worker. Everything the site loads is its own, so require-corp blocks nothing. The widget's
  // copy may itself be framed by an isolated page, which needs it to opt in (CORP cross-origin).
  '/embed.html', '  Cross-Origin-Resource-Policy: cross-origin',
  '/*', '  X-Content-Type-Options: nosniff', '  Cross-Origin-Opener-Policy: same-origin',
  '  Cross-Origin-Embedder-Policy: require-corp',
  '',
].join('\n'));
if (!existsSync(join(dir, worker)) || !existsSync(join(dir, tokens))) throw new Error('post_build: a worker is missing');
console.log(`post_build: build ${id}: ${worker}, ${tokens}, ${boot}, sw.js, embed.html, _headers`);
