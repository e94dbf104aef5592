// Offline after one visit: registers the service worker (sw.js, one cache per build). A file,
// not an inline script, so the Content-Security-Policy needs no 'unsafe-inline'.
if ('serviceWorker' in navigator) navigator.serviceWorker.register('./sw.js').catch(() => {});
