// The web client's worker: it runs the WebAssembly build of package client (keys, sealing,
// the relay connection) so that the page stays responsive, and keeps its bytes in IndexedDB.
// The page sends {id, op, args}; the worker answers {id, ok, value} or {id, ok: false, error},
// and posts {event: ...} when something happens (a message, a new friend, progress).
'use strict';
importScripts('/wasm_exec.js');

const DB = 'echorelay', STORE = 'kv';
let dbp = null;
function db() {
  if (!dbp) {
    dbp = new Promise((resolve, reject) => {
      const r = indexedDB.open(DB, 1);
      r.onupgradeneeded = () => r.result.createObjectStore(STORE);
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
  }
  return dbp;
}
function tx(mode, fn) {
  return db().then((d) => new Promise((resolve, reject) => {
    const t = d.transaction(STORE, mode);
    const req = fn(t.objectStore(STORE));
    t.oncomplete = () => resolve(req.result);
    t.onerror = () => reject(t.error);
    t.onabort = () => reject(t.error || new Error('storage transaction aborted'));
  }));
}

let ready;
const booted = new Promise((r) => { ready = r; });
self.echorelayHost = {
  idbGet: (k) => tx('readonly', (s) => s.get(k)),
  idbPut: (k, v) => tx('readwrite', (s) => s.put(v, k)),
  idbDelete: (k) => tx('readwrite', (s) => s.delete(k)),
  emit: (ev) => self.postMessage(ev),
  ready: () => ready(),
};

async function boot(integrity) {
  const go = new Go();
  const opts = integrity ? { integrity } : {};
  const resp = await fetch('/echorelay.wasm', opts);
  if (!resp.ok) throw new Error('the relay has no web client build (' + resp.status + ')');
  // Count the bytes as they come, for the page's progress bar.
  const reader = resp.body.getReader();
  const parts = [];
  let got = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    got += value.length;
    self.postMessage({ event: 'loading', bytes: got });
  }
  const bytes = new Uint8Array(got);
  let off = 0;
  for (const p of parts) { bytes.set(p, off); off += p.length; }
  const { instance } = await WebAssembly.instantiate(bytes, go.importObject);
  go.run(instance);
  await booted;
}

let bootp = null;
self.onmessage = async (e) => {
  const { id, op, args } = e.data;
  try {
    if (op === 'boot') {
      if (!bootp) bootp = boot(args.integrity);
      await bootp;
      self.postMessage({ id, ok: true, value: null });
      return;
    }
    await bootp;
    const value = await self.echorelayCall(op, args || {});
    self.postMessage({ id, ok: true, value });
  } catch (err) {
    self.postMessage({ id, ok: false, error: String(err && err.message ? err.message : err) });
  }
};
