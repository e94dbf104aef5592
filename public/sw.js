// tokenmeter's service worker: after one visit, the page opens without a network.
//
// - Network first, so a new version of the site is used as soon as it is reachable; the last good
//   copy (kept in Cache Storage, "tokenmeter-shell-v1") when the network fails.
// - On install it keeps the app shell: index.html, every file it names (the hashed page wasm,
//   its glue and style), the worker, the price table and the vocabularies shown by default
//   (other vocabularies join the cache when first shown).
// - The model file is not handled here: the worker keeps it in its own bucket
//   ("tokenmeter-models-v1") and reads it from there before asking the network.
// Everything is relative to this file, so dist/ works under any sub-path.
const CACHE = 'tokenmeter-shell-v1';
const FIXED = ['./', 'worker-loader.js', 'worker.js', 'worker_bg.wasm', 'prices/prices.json.gz',
  'vocab/smollm2.json.gz', 'vocab/o200k_base.json.gz', 'vocab/llama3.json.gz'];

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    const html = await (await fetch('./', { cache: 'no-cache' })).text();
    const named = [...html.matchAll(/(?:href=|src=|from |module_or_path: )['"]\.\/([^'"]+)['"]/g)].map((m) => m[1]);
    const names = [...new Set([...FIXED, ...named])];
    // One missing file must not leave the site without any offline copy.
    await Promise.all(names.map((n) => cache.add(n).catch(() => {})));
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('fetch', (event) => {
  const req = event.request;
  const url = new URL(req.url);
  if (req.method !== 'GET' || url.origin !== self.location.origin || url.pathname.includes('/models/')) return;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    try {
      const res = await fetch(req);
      if (res.ok && res.type === 'basic') cache.put(req, res.clone()).catch(() => {});
      return res;
    } catch (err) {
      // Offline: the same URL, or for a page (any query, e.g. ?embed=) the app shell.
      const hit = await cache.match(req) ?? (req.mode === 'navigate' ? await cache.match('./') : undefined);
      if (hit) return hit;
      throw err;
    }
  })());
});
