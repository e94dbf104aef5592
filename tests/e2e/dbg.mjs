import { serveDist, launch, ROOT, workerUrl } from './harness.mjs';
import { join } from 'node:path';
const server = await serveDist();
const browser = await launch();
const page = await browser.newPage();
page.on('console', (m) => console.log('console:', m.text()));
page.on('worker', (w) => { w.on('console', (m) => console.log('worker:', m.text())); });
await page.goto(server.url + '__blank.html');
await page.evaluate(() => document.body.insertAdjacentHTML('beforeend', '<input type="file" id="own">'));
await page.setInputFiles('#own', join(ROOT, 'data/test/models/qwen3-Q4_K_M.gguf'));
const out = await page.evaluate(async (url) => {
  const w = new Worker(url);
  const log = [];
  return await new Promise((resolve) => {
    setTimeout(() => resolve(log), 40000);
    w.onerror = (e) => { log.push('error ' + e.message); resolve(log); };
    w.onmessage = (ev) => {
      const m = JSON.parse(ev.data);
      log.push(JSON.stringify(m).slice(0, 200));
      if (m === 'Ready') w.postMessage([JSON.stringify({ LoadFile: { backend: 'cpu' } }), document.querySelector('#own').files[0]]);
      if (m.ModelReady || m.ModelFailed) resolve(log);
    };
  });
}, workerUrl());
console.log(out.join('\n'));
await browser.close(); await server.close();
