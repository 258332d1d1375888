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
  // The open conversation: a friend's name, or a group ({id, name}; the worker names groups by ID).
  let screen = '', friend = '', group = null, relay = null;
  const titles = { list: 'Chats', invite: 'Invite a friend', join: 'Enter a code', settings: 'Settings', safety: 'Safety number',
    newgroup: 'New group' };
  function show(name) {
    for (const s of document.querySelectorAll('main > section')) s.hidden = s.id !== 'scr-' + name;
    if (screen !== name) window.scrollTo(0, 0);
    screen = name;
    document.body.dataset.screen = name;
    const inside = !['loading', 'create', 'unlock'].includes(name);
    $('open-settings').hidden = !inside || name === 'settings';
    $('back').hidden = !inside || name === 'list';
    const conv = group ? group.name : friend;
    $('title').textContent = name === 'chat' || name === 'group' ? conv : (titles[name] || 'echorelay chat');
  }
  function fatal(msg) { show('loading'); $('load-text').textContent = msg; $('load-text').className = 'error'; }
  function busy(btn, p) {
    btn.disabled = true;
    return p.finally(() => { btn.disabled = false; });
  }
  function errorTo(el) { return (err) => { $(el).textContent = err.message; }; }
  $('back').onclick = () => {
    if (screen === 'safety') openChat(friend);
    else if (screen === 'group') openGroupChat(group.id, group.name);
    else openList();
  };
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
  handlers.group = () => refresh();
  handlers.groupChange = () => refresh();
  // A group blob or commit that did not verify: kept out of the chat, said in it.
  const groupRefused = (window.echorelayGroupRefused = []);
  handlers.groupRefused = (m) => {
    groupRefused.push(m.group + ': ' + m.error);
    if (screen === 'chat' && group && group.name === m.group) $('chat-error').textContent = 'a group message was refused: ' + m.error;
  };
  function refresh() {
    if (screen === 'list') openList();
    if (screen === 'chat') renderChat();
    if (screen === 'group') renderGroup();
  }

  // ---- the list ----
  async function openList() {
    show('list');
    $('join-banner').hidden = !pendingCode;
    let fs = [], gs = [];
    try {
      [fs, gs] = await Promise.all([call('friends'), call('groups')]);
    } catch (err) { $('no-friends').textContent = err.message; }
    const ul = $('friends');
    ul.replaceChildren();
    const convs = fs.map((f) => ({ ...f, group: null })).concat(gs.map((g) => ({ ...g, group: g })));
    convs.sort((a, b) => b.last - a.last);
    for (const f of convs) {
      const li = document.createElement('li');
      const b = document.createElement('button');
      if (f.group) b.dataset.group = f.id; else b.dataset.friend = f.name;
      const n = document.createElement('span');
      n.className = 'who';
      const nm = document.createElement('b');
      if (f.group) {
        const badge = document.createElement('span');
        badge.className = 'badge';
        badge.textContent = 'group';
        nm.append(badge);
      }
      nm.append(f.name);
      const pv = document.createElement('span');
      pv.className = 'preview';
      pv.textContent = f.group && f.gone ? 'you are no longer in this group' : (f.preview || (f.group ? members(f.members) : 'say hello'));
      n.append(nm, pv);
      const w = document.createElement('span');
      w.className = 'when';
      w.textContent = f.last ? new Date(f.last).toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' }) : 'new';
      b.append(n, w);
      b.onclick = () => (f.group ? openGroupChat(f.id, f.name) : openChat(f.name));
      li.append(b);
      ul.append(li);
    }
    $('no-friends').hidden = convs.length > 0;
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
    group = null;
    return enterChat();
  }
  async function openGroupChat(id, name) {
    friend = '';
    group = { id, name };
    return enterChat();
  }
  async function enterChat() {
    show('chat');
    $('chat-error').textContent = '';
    $('open-safety').hidden = !!group;
    $('open-members').hidden = !group;
    $('chat-gone').hidden = true;
    $('compose').hidden = false;
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
    const g = group;
    try {
      ms = g ? await call('groupHistory', { id: g.id }) : await call('history', { name: friend });
      if (g) {
        const gone = (await call('groups')).some((x) => x.id === g.id && x.gone);
        $('chat-gone').hidden = !gone;
        $('compose').hidden = gone;
      }
    } catch (err) { $('chat-error').textContent = err.message; return; }
    if (g !== group) return; // another conversation was opened meanwhile
    const ol = $('messages');
    const items = [];
    for (const m of ms) {
      const li = document.createElement('li');
      li.className = m.out ? 'out' : 'in';
      li.dataset.kind = m.kind;
      if (g && !m.out) {
        // In a group, who wrote it comes first ("Sam"), then what they wrote.
        const from = document.createElement('span');
        from.className = 'from';
        from.textContent = m.from;
        li.dataset.from = m.from;
        li.append(from);
      }
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
        li.append('File: ' + m.body);
      } else {
        li.append(m.body);
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
    const sent = group ? call('groupSendText', { id: group.id, text }) : call('sendText', { name: friend, text });
    busy($('send'), sent)
      .then((r) => { $('text').value = ''; if (r.queued) $('chat-error').textContent = 'kept to send later: ' + r.error; return renderChat(); })
      .catch(errorTo('chat-error'));
  };
  $('attach').onchange = async () => {
    const f = $('attach').files[0];
    if (!f) return;
    $('chat-error').textContent = 'sending ' + f.name + '\u2026';
    const data = new Uint8Array(await f.arrayBuffer());
    const name = f.name.replace(/[\/\\]/g, '_') || 'file';
    const sent = group ? call('groupSendFile', { id: group.id, fileName: name, data }) : call('sendFile', { name: friend, fileName: name, data });
    busy($('send'), sent)
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

  // ---- groups ----
  const members = (n) => (n === 1 ? 'only you so far' : n + ' members');
  $('open-newgroup').onclick = async () => {
    show('newgroup');
    $('newgroup-error').textContent = '';
    $('newgroup-name').value = '';
    let fs = [];
    try { fs = await call('friends'); } catch (err) { $('newgroup-error').textContent = err.message; }
    const box = $('newgroup-friends');
    box.replaceChildren();
    fs.sort((a, b) => a.name.localeCompare(b.name));
    for (const f of fs) {
      const l = document.createElement('label');
      const c = document.createElement('input');
      c.type = 'checkbox';
      c.value = f.name;
      c.dataset.friend = f.name;
      l.append(c, f.name);
      box.append(l);
    }
    $('newgroup-none').hidden = fs.length > 0;
    $('newgroup-name').focus();
  };
  $('newgroup-go').onclick = () => {
    $('newgroup-error').textContent = '';
    const name = $('newgroup-name').value.trim();
    if (!name) { $('newgroup-error').textContent = 'give the group a name'; return; }
    const members = [...document.querySelectorAll('#newgroup-friends input:checked')].map((c) => c.value);
    $('newgroup-wait').hidden = false;
    const t0 = performance.now();
    busy($('newgroup-go'), call('groupNew', { name, members }))
      .then((g) => { timings.groupNew = performance.now() - t0; return openGroupChat(g.id, g.name); })
      .catch(errorTo('newgroup-error'))
      .finally(() => { $('newgroup-wait').hidden = true; });
  };
  $('open-members').onclick = () => openGroup();
  async function openGroup() {
    show('group');
    $('group-msg').textContent = '';
    $('group-invite-out').hidden = true;
    $('group-leave-go').textContent = 'Leave the group';
    delete $('group-leave-go').dataset.confirm;
    await renderGroup();
  }
  async function renderGroup() {
    const g = group;
    let info, fs;
    try {
      [info, fs] = await Promise.all([call('groupMembers', { id: g.id }), call('friends')]);
    } catch (err) { $('group-msg').textContent = err.message; return; }
    if (g !== group || screen !== 'group') return;
    $('group-who').textContent = members(info.members) + ' \u00b7 ' + (info.isAdmin ? 'you are the admin' : 'admin: ' + (info.admin || 'not your friend'));
    $('group-gone').hidden = !info.gone;
    $('group-leave-go').hidden = info.gone || info.isAdmin;
    $('group-admin-tools').hidden = info.gone || !info.isAdmin;
    const ul = $('group-members');
    const items = [];
    // You first, then the admin, then by name.
    const rank = (m) => (m.me ? 0 : m.admin ? 1 : 2);
    info.list.sort((x, y) => rank(x) - rank(y) || x.name.localeCompare(y.name));
    for (const m of info.list) {
      const li = document.createElement('li');
      li.dataset.member = m.me ? 'you' : m.name;
      const who = document.createElement('span');
      const nm = document.createElement('b');
      nm.textContent = m.me ? 'you' : m.name;
      const tags = document.createElement('span');
      tags.className = 'tags';
      tags.textContent = [m.admin ? ' admin' : '', m.friend || m.me ? '' : ' not your friend'].filter(Boolean).join(' \u00b7');
      who.append(nm, tags);
      li.append(who);
      if (info.isAdmin && !m.me && !info.gone) {
        const rm = document.createElement('button');
        rm.textContent = 'Remove';
        rm.dataset.remove = m.name;
        rm.onclick = () => busy(rm, call('groupRemove', { id: g.id, member: m.name }))
          .then(() => renderGroup())
          .catch(errorTo('group-msg'));
        li.append(rm);
      }
      items.push(li);
    }
    ul.replaceChildren(...items);
    const inGroup = new Set(info.list.filter((m) => m.friend).map((m) => m.name));
    const sel = $('group-add-friend');
    const keep = sel.value;
    sel.replaceChildren();
    for (const f of fs.filter((x) => !inGroup.has(x.name)).sort((a, b) => a.name.localeCompare(b.name))) {
      const o = document.createElement('option');
      o.value = o.textContent = f.name;
      sel.append(o);
    }
    if ([...sel.options].some((o) => o.value === keep)) sel.value = keep;
    $('group-add-none').hidden = sel.options.length > 0;
    $('group-add-row').hidden = sel.options.length === 0;
  }
  $('group-add-go').onclick = () => {
    $('group-msg').textContent = '';
    const f = $('group-add-friend').value;
    if (!f) return;
    const t0 = performance.now();
    busy($('group-add-go'), call('groupAdd', { id: group.id, friend: f }))
      .then(() => { timings.groupAdd = performance.now() - t0; return renderGroup(); })
      .catch(errorTo('group-msg'));
  };
  $('group-invite-go').onclick = () => {
    $('group-msg').textContent = '';
    const name = $('group-invite-name').value.trim();
    if (!name) { $('group-msg').textContent = 'say what to call them'; return; }
    busy($('group-invite-go'), call('groupInvite', { id: group.id, name, as: nick() })
      .then(async (r) => {
        const link = location.origin + '/#invite=' + r.code;
        $('group-invite-code').value = r.code;
        $('group-invite-link').textContent = link;
        $('group-invite-link').href = link;
        const q = await call('qr', { text: link });
        $('group-invite-qr').src = URL.createObjectURL(new Blob([q.svg], { type: 'image/svg+xml' }));
        $('group-invite-out').hidden = false;
      }))
      .catch(errorTo('group-msg'));
  };
  // Leaving asks twice: a second tap on the same button.
  $('group-leave-go').onclick = () => {
    const b = $('group-leave-go');
    if (!b.dataset.confirm) { b.dataset.confirm = '1'; b.textContent = 'Tap again to leave ' + group.name; return; }
    busy(b, call('groupLeave', { id: group.id }))
      .then(() => openGroupChat(group.id, group.name))
      .catch(errorTo('group-msg'));
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
