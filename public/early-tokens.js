// Starts the light tokens worker while the page's own wasm still downloads and compiles: a
// widget's first token waits on that worker (its wasm, then the first column's vocabulary), and
// the page would only start it once its own wasm runs. The page adopts this worker
// (`take_early` in src/worker_client.rs), replaying the messages and errors it sent meanwhile;
// if the page asks for another URL it stops this one and starts its own. The worker is told the
// address's fragment at once (`ToWorker::Preload` in src/protocol.rs), so it starts
// downloading the vocabularies of the columns the link shows before the page has read the link:
// in a message, never in the worker's URL, because the fragment holds the user's text and a URL's
// query goes to the server. A file, not an inline script: the Content-Security-Policy needs no
// 'unsafe-inline'.
(() => {
  const build = document.querySelector('meta[name=tokenmeter-build]');
  if (!build || typeof Worker === 'undefined') return;
  const url = `./worker-loader.js?build=${build.content}&role=tokens`;
  try {
    const worker = new Worker(url);
    const events = [];
    worker.onmessage = (ev) => events.push(ev);
    // At once: the loader keeps what arrives before the wasm listens (worker-loader.js).
    worker.postMessage(JSON.stringify({ Preload: { fragment: location.hash } }));
    worker.onerror = (ev) => { ev.preventDefault(); events.push(ev); };
    self.tokenmeterEarlyTokens = { url, worker, events };
  } catch {
    // The page starts its tokens worker itself, and says why if it cannot.
  }
})();
