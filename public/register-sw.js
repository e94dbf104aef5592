// Offline after one visit: registers the service worker (sw.js, one cache per build). A file,
// not an inline script, so the Content-Security-Policy needs no 'unsafe-inline'. Not in a widget
// (`?embed=…`): a reader of a blog post should download what the widget shows, not the whole app
// for later (the service worker keeps the model's code and every shipped vocabulary).
if ('serviceWorker' in navigator && !new URLSearchParams(location.search).has('embed')) {
  navigator.serviceWorker.register('./sw.js').catch(() => {});
}
