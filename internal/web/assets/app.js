// The web client's page: screens, and calls to the worker that holds the keys (worker.js).
// Everything shown is set with textContent; nothing from the network becomes HTML.
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const timings = (window.echorelayTimings = { create: null, unlock: null, receive: [], loadBytes: 0 });
  // Anything the Content-Security-Policy blocks is recorded (the tests require none).
  const cspViolations = (window.echorelayCSPViolations = []);
  document.addEventListener('securitypolicyviolation', (e) => cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));

  // ---- the worker ----
  const worker = new Worker('/worker.js');
  let nextID = 1;
  const waiting = new Map();
  const handlers = {};
  worker.onmessage = (e) => {
    const m = e.data;
    if (m.event) { (handlers[m.event] || (() => {}))(m); return; }
    const w = waiting.get(m.id);
    if (!w) return;
    waiting.delete(m.id);
    if (m.ok) w.resolve(m.value); else w.reject(new Error(m.error));
  };
  worker.onerror = (e) => fatal('the client stopped: ' + (e.message || 'worker error'));
  function call(op, args) {
    return new Promise((resolve, reject) => {
      const id = nextID++;
      waiting.set(id, { resolve, reject });
      worker.postMessage({ id, op, args: args || {} });
    });
  }
  window.echorelayCall = call; // the worker's API, for the console and the tests (same origin only)

  // ---- screens ----
  let screen = '', friend = '', relay = null;
  const titles = { list: 'Chats', invite: 'Invite a friend', join: 'Enter a code', settings: 'Settings', safety: 'Safety number' };
  function show(name) {
    for (const s of document.querySelectorAll('main > section')) s.hidden = s.id !== 'scr-' + name;
    screen = name;
    document.body.dataset.screen = name;
    const inside = !['loading', 'create', 'unlock'].includes(name);
    $('open-settings').hidden = !inside || name === 'settings';
    $('back').hidden = !inside || name === 'list';
    $('title').textContent = name === 'chat' ? friend : (titles[name] || 'echorelay chat');
  }
  function fatal(msg) { show('loading'); $('load-text').textContent = msg; $('load-text').className = 'error'; }
  function busy(btn, p) {
    btn.disabled = true;
    return p.finally(() => { btn.disabled = false; });
  }
  function errorTo(el) { return (err) => { $(el).textContent = err.message; }; }
  $('back').onclick = () => (screen === 'safety' ? openChat(friend) : openList());
  $('open-settings').onclick = openSettings;

  // ---- invite in the URL fragment: it never reaches the server ----
  let pendingCode = '';
  function readFragment() {
    const m = /^#invite=([A-Za-z0-9 -]+)$/.exec(location.hash);
    if (m) {
      pendingCode = m[1];
      history.replaceState(null, '', location.pathname); // the code is not kept in the history
    }
  }

  // ---- start ----
  async function start() {
    readFragment();
    const local = ['localhost', '127.0.0.1', '[::1]'].includes(location.hostname);
    $('http-warning').hidden = location.protocol !== 'http:' || local;
    handlers.loading = (m) => {
      timings.loadBytes = m.bytes;
      $('load-text').textContent = (m.bytes / 1e6).toFixed(1) + ' MB';
      $('load-bar').style.width = Math.min(100, (m.bytes / 8e6) * 100) + '%';
    };
    const sri = document.querySelector('meta[name=wasm-sri]').content;
    try {
      const r = await fetch('/relay.json', { cache: 'no-store' });
      relay = await r.json();
      if (!relay.wasm_sha256) throw new Error('this relay was built without the web client (scripts/webwasm)');
      await call('boot', { integrity: sri });
      const st = await call('init', { relay: relay.relay, fingerprint: relay.fingerprint, ws: wsURL(relay.ws) });
      show(st.hasIdentity ? 'unlock' : 'create');
      (st.hasIdentity ? $('unlock-pass') : $('create-nick')).focus();
    } catch (err) {
      fatal('could not start: ' + err.message);
    }
  }
  function wsURL(path) { return (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + path; }

  // ---- create, unlock ----
  $('create-go').onclick = () => {
    const pass = $('create-pass').value;
    $('create-error').textContent = '';
    if (pass !== $('create-pass2').value) { $('create-error').textContent = 'the two passphrases differ'; return; }
    if (pass.length < 8) { $('create-error').textContent = 'the passphrase needs at least 8 characters'; return; }
    const t0 = performance.now();
    $('create-progress').hidden = false;
    const tick = setInterval(() => { $('create-elapsed').textContent = ((performance.now() - t0) / 1000).toFixed(1); }, 100);
    handlers.progress = (m) => { $('create-step').textContent = m.text; };
    busy($('create-go'), call('create', { passphrase: pass }))
      .then((r) => { timings.create = { wallMs: performance.now() - t0, ...r }; return unlocked(); })
      .catch(errorTo('create-error'))
      .finally(() => { clearInterval(tick); $('create-progress').hidden = true; });
  };
  $('unlock-go').onclick = () => {
    $('unlock-error').textContent = '';
    const t0 = performance.now();
    busy($('unlock-go'), call('unlock', { passphrase: $('unlock-pass').value }))
      .then(() => { timings.unlock = performance.now() - t0; $('unlock-pass').value = ''; return unlocked(); })
      .catch(errorTo('unlock-error'));
  };
  $('unlock-pass').onkeydown = (e) => { if (e.key === 'Enter') $('unlock-go').click(); };

  function nick() { return localStorage.getItem('nick') || ''; }
  $('create-nick').onchange = () => localStorage.setItem('nick', $('create-nick').value.trim());

  async function unlocked() {
    $('relay-state').hidden = false;
    await openList();
  }

  // ---- events from the worker ----
  handlers.relay = (m) => {
    $('relay-state').textContent = m.ok ? 'connected to the relay' : 'relay not reachable: ' + m.error;
    $('relay-state').className = m.ok ? 'muted' : 'error';
    document.body.dataset.relay = m.ok ? 'ok' : 'down';
  };
  // How long each read of the relay took that brought something: fetch, open, verify, store.
  handlers.received = (m) => { timings.receive.push({ ms: m.ms, events: m.events, texts: m.texts }); refresh(); };
  handlers.pushed = () => { timings.pushed = (timings.pushed || 0) + 1; refresh(); }; // brought by the subscription
  handlers.friend = () => refresh();
  handlers.sent = () => refresh();
  function refresh() {
    if (screen === 'list') openList();
    if (screen === 'chat') renderChat();
  }

  // ---- the list ----
  async function openList() {
    show('list');
    $('join-banner').hidden = !pendingCode;
    let fs = [];
    try { fs = await call('friends'); } catch (err) { $('no-friends').textContent = err.message; }
    const ul = $('friends');
    ul.replaceChildren();
    fs.sort((a, b) => b.last - a.last);
    for (const f of fs) {
      const li = document.createElement('li');
      const b = document.createElement('button');
      b.dataset.friend = f.name;
      const n = document.createElement('span');
      n.className = 'who';
      const nm = document.createElement('b');
      nm.textContent = f.name;
      const pv = document.createElement('span');
      pv.className = 'preview';
      pv.textContent = f.preview || 'say hello';
      n.append(nm, pv);
      const w = document.createElement('span');
      w.className = 'when';
      w.textContent = f.last ? new Date(f.last).toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' }) : 'new';
      b.append(n, w);
      b.onclick = () => openChat(f.name);
      li.append(b);
      ul.append(li);
    }
    $('no-friends').hidden = fs.length > 0;
  }
  $('open-invite').onclick = () => { show('invite'); $('invite-out').hidden = true; $('invite-error').textContent = ''; $('invite-name').focus(); };
  $('open-join').onclick = () => { show('join'); $('join-error').textContent = ''; $('join-code').value = pendingCode; $('join-code').focus(); };

  // ---- invite ----
  $('invite-go').onclick = () => {
    $('invite-error').textContent = '';
    busy($('invite-go'), call('invite', { name: $('invite-name').value.trim(), as: nick() })
      .then(async (r) => {
        const link = location.origin + '/#invite=' + r.code;
        $('invite-code').value = r.code;
        $('invite-link').textContent = link;
        $('invite-link').href = link;
        const q = await call('qr', { text: link });
        $('invite-qr').src = URL.createObjectURL(new Blob([q.svg], { type: 'image/svg+xml' }));
        $('invite-out').hidden = false;
      }))
      .catch(errorTo('invite-error'));
  };
  $('invite-copy').onclick = () => navigator.clipboard && navigator.clipboard.writeText($('invite-link').href);

  // ---- join ----
  function join(code, name, btn, errEl) {
    $(errEl).textContent = '';
    $('join-wait').hidden = false;
    return busy(btn, call('accept', { code, name, as: nick() }))
      .then((r) => { pendingCode = ''; return openChat(r.name); })
      .catch(errorTo(errEl))
      .finally(() => { $('join-wait').hidden = true; });
  }
  $('join-go').onclick = () => join($('join-code').value.trim(), $('join-name').value.trim(), $('join-go'), 'join-error');
  $('join-go-b').onclick = () => join(pendingCode, $('join-name-b').value.trim(), $('join-go-b'), 'no-friends');

  // ---- chat ----
  async function openChat(name) {
    friend = name;
    show('chat');
    $('chat-error').textContent = '';
    await renderChat();
    $('text').focus();
  }
  const fileURLs = new Map();
  async function fileView(key) {
    if (!fileURLs.has(key)) {
      const f = await call('file', { key });
      fileURLs.set(key, { name: f.name, url: URL.createObjectURL(new Blob([f.data])) });
    }
    return fileURLs.get(key);
  }
  const isImage = (n) => /\.(png|jpe?g|gif|webp|avif|bmp)$/i.test(n);
  async function renderChat() {
    let ms;
    try { ms = await call('history', { name: friend }); } catch (err) { $('chat-error').textContent = err.message; return; }
    const ol = $('messages');
    const items = [];
    for (const m of ms) {
      const li = document.createElement('li');
      li.className = m.out ? 'out' : 'in';
      li.dataset.kind = m.kind;
      if (m.kind === 'file' && !m.out && m.body.startsWith('file/')) {
        try {
          const f = await fileView(m.body);
          if (isImage(f.name)) {
            const img = document.createElement('img');
            img.src = f.url;
            img.alt = f.name;
            li.append(img);
          } else {
            const a = document.createElement('a');
            a.href = f.url;
            a.download = f.name;
            a.textContent = 'File: ' + f.name;
            li.append(a);
          }
        } catch (err) { li.textContent = 'a file that is no longer stored'; }
      } else if (m.kind === 'file') {
        li.textContent = 'File: ' + m.body;
      } else {
        li.textContent = m.body;
      }
      const meta = document.createElement('span');
      meta.className = 'meta';
      let state = '';
      if (m.out) state = m.state === 'relay' ? ' \u2713 on the relay' : ' \u23F3 waiting' + (m.error ? ': ' + m.error : '');
      meta.textContent = new Date(m.time).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) + state;
      if (m.out) li.dataset.state = m.state;
      li.append(meta);
      items.push(li);
    }
    ol.replaceChildren(...items);
    window.scrollTo(0, document.body.scrollHeight);
  }
  $('compose').onsubmit = (e) => {
    e.preventDefault();
    const text = $('text').value;
    if (!text.trim()) return;
    $('chat-error').textContent = '';
    busy($('send'), call('sendText', { name: friend, text }))
      .then((r) => { $('text').value = ''; if (r.queued) $('chat-error').textContent = 'kept to send later: ' + r.error; return renderChat(); })
      .catch(errorTo('chat-error'));
  };
  $('attach').onchange = async () => {
    const f = $('attach').files[0];
    if (!f) return;
    $('chat-error').textContent = 'sending ' + f.name + '\u2026';
    const data = new Uint8Array(await f.arrayBuffer());
    const name = f.name.replace(/[\/\\]/g, '_') || 'file';
    busy($('send'), call('sendFile', { name: friend, fileName: name, data }))
      .then((r) => { $('chat-error').textContent = r.queued ? 'kept to send later: ' + r.error : ''; $('attach').value = ''; return renderChat(); })
      .catch(errorTo('chat-error'));
  };
  $('open-safety').onclick = async () => {
    const fs = await call('friends');
    const f = fs.find((x) => x.name === friend);
    show('safety');
    $('safety-name').textContent = friend;
    $('safety-number').textContent = f ? f.safety : '';
  };

  // ---- settings ----
  async function openSettings() {
    show('settings');
    const st = await call('status');
    $('set-fp').textContent = st.fingerprint || '';
    $('set-relay').textContent = relay.relay;
    $('set-relay-fp').textContent = relay.fingerprint;
    $('set-wasm').textContent = relay.wasm_sha256;
    $('set-web-fp-row').hidden = !relay.web_fingerprint;
    $('set-web-fp').textContent = relay.web_fingerprint || '';
  }
  $('pw-go').onclick = () => {
    $('pw-msg').textContent = '';
    busy($('pw-go'), call('passwd', { old: $('pw-old').value, new: $('pw-new').value }))
      .then(() => { $('pw-msg').textContent = 'changed'; $('pw-old').value = $('pw-new').value = ''; })
      .catch((err) => { $('pw-msg').textContent = err.message; });
  };
  $('export-go').onclick = async () => {
    const b = await call('export');
    const a = document.createElement('a');
    a.href = URL.createObjectURL(new Blob([b], { type: 'application/octet-stream' }));
    a.download = 'echorelay-identity';
    a.click();
  };
  function importFrom(fileEl, passEl, msgEl) {
    const f = $(fileEl).files[0];
    if (!f) { $(msgEl).textContent = 'choose the backup file first'; return; }
    f.arrayBuffer().then((buf) => call('import', { data: new Uint8Array(buf), passphrase: $(passEl).value }))
      .then(() => unlocked())
      .catch((err) => { $(msgEl).textContent = err.message; });
  }
  $('import-go').onclick = () => importFrom('import-file', 'import-pass', 'import-msg');
  $('import-go-0').onclick = () => importFrom('import-file-0', 'import-pass-0', 'create-error');
  $('lock-go').onclick = () => call('lock').then(() => { $('relay-state').hidden = true; show('unlock'); });

  start();
})();
