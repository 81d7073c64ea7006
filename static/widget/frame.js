/* Switchboard chat widget: the framed chat page. Every element is built with the DOM and
   textContent; no data ever goes through innerHTML. */
(() => {
  "use strict";
  const $ = (s) => document.querySelector(s);
  const C = JSON.parse($("#sb-config").textContent), S = C.strings, root = document.documentElement;
  const KEY = "sb:" + C.key, OUTBOX = KEY + ":outbox";
  const fmt = (s, v) => s.replace(/%\((\w+)\)s/g, (_, k) => v[k]);
  const delay = (n) => Math.min(15000, 500 * 2 ** n) * (0.5 + Math.random() / 2);
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const uuid = () => crypto.randomUUID ? crypto.randomUUID()
    : "10000000-1000-4000-8000-100000000000".replace(/[018]/g, (c) =>
        (c ^ (crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (c / 4)))).toString(16));
  const h = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  };
  const store = (k, v) => { // read: (k); write: (k, v); remove: (k, null)
    try {
      if (v === undefined) return localStorage.getItem(k);
      v === null ? localStorage.removeItem(k) : localStorage.setItem(k, v);
    } catch { return null; }
  };

  const panel = $(".sb-panel"), list = $(".sb-messages"), input = $(".sb-input"),
    fileIn = $(".sb-file"), badge = $(".sb-badge"), banner = $(".sb-banner"),
    typingEl = $(".sb-typing"), launcher = $(".sb-launcher"), older = $(".sb-older"),
    composer = $(".sb-composer"), prechat = $(".sb-prechat"), emojis = $(".sb-emojis");

  // Accent colour, and a text colour that stays readable on it.
  const rgb = parseInt(C.color.slice(1), 16) || 0x2563eb;
  root.style.setProperty("--c", "#" + rgb.toString(16).padStart(6, "0"));
  const light = 0.299 * (rgb >> 16) + 0.587 * ((rgb >> 8) & 255) + 0.114 * (rgb & 255) > 170;
  root.style.setProperty("--f", light ? "#111827" : "#fff");
  root.style.setProperty("--a", light ? "#374151" : "var(--c)"); // accent on white
  if (C.position === "left") root.classList.add("sb-left");

  let token = store(KEY), session = null, visitor = null, conv = null, host = null, hostOrigin = null,
    isOpen = false, ws = null, wsTries = 0, wsTimer, pingTimer, pongTimer, wasReady = false,
    lastSeq = 0, loaded = false, hasOlder = false, loadingOlder = false, syncing = false, again = false,
    agentRead = 0, readSeq = 0, unreadN = 0, pumping = false, pumpTimer, pumpTries = 0,
    stick = true, user = null, lead = false, statusAt = 0, typedAt = 0, typingOn = false, idleTimer, agentTypingTimer, readTimer, audio;
  const held = new Map(); // seq -> message
  const outbox = []; // own pending messages, in order
  let hostReady;
  const hostWait = new Promise((r) => (hostReady = r));

  // --- Host page (the loader)
  const post = (m) => hostOrigin && parent.postMessage(m, hostOrigin);
  const emit = (name, data) => post({ type: "sb:event", name, data });
  if (parent === window) hostReady();
  else {
    parent.postMessage({ type: "sb:ready" }, "*");
    setTimeout(hostReady, 3000);
  }
  addEventListener("message", (e) => {
    const d = e.data;
    if (e.source !== parent || parent === window || !d || typeof d !== "object") return;
    if (d.type === "sb:host" && (!hostOrigin || e.origin === hostOrigin)) {
      const first = !hostOrigin;
      hostOrigin = e.origin;
      host = d;
      hostReady();
      if (first) layout();
    }
    if (e.origin !== hostOrigin) return;
    if (d.type === "sb:viewport") root.classList.toggle("sb-full", !!d.full);
    else if (d.type === "sb:cmd") command(d.cmd, d.arg);
  });
  const layout = () => post({ type: "sb:layout", open: isOpen, position: C.position });

  function command(cmd, arg) {
    if (cmd === "open" || cmd === "close") toggle(cmd === "open");
    else if (cmd === "reset") { // signed out: forget this visitor
      user = visitor = conv = null;
      lead = false;
      outbox.splice(0).forEach((i) => i.el.remove());
      prechat.reset();
      reset();
      dropToken();
      refresh();
    } else if (cmd === "setUser" && arg && typeof arg === "object") {
      user = {};
      for (const k of ["id", "name", "email", "phone", "hash"]) if (arg[k] != null) user[k] = String(arg[k]);
      for (const f of ALL) if (user[f] && !prechat.elements[f].value) prechat.elements[f].value = user[f];
      if (token) sendUser();
    }
  }
  // A verified user sees their conversations; another user on this browser gets a new visitor.
  const sendUser = () => user && ensureSession().then(() => api("POST", "user/", user)).then((r) => {
    if (!r.changed) return;
    if (r.token !== token) {
      token = r.token;
      visitor = r.visitor_id;
      store(KEY, token);
      reconnect();
    }
    reset();
    sync();
  }).catch(() => {});

  function context() {
    const url = (host && host.url) || document.referrer || "";
    const c = {
      page_url: url, page_title: host && host.title, referrer: host && host.referrer,
      language: navigator.language, timezone: Intl.DateTimeFormat().resolvedOptions().timeZone,
    };
    let q;
    try { q = new URL(url).searchParams; } catch { /* no host URL */ }
    for (const k of ["source", "medium", "campaign", "content", "term"]) c["utm_" + k] = q && q.get("utm_" + k);
    for (const k in c) c[k] = String(c[k] || "").slice(0, 2000);
    return c;
  }

  // --- REST
  async function api(method, path, body) {
    if (!navigator.onLine) throw new Error("offline"); // the online event retries
    const headers = {}, sent = token;
    if (sent) headers.Authorization = "Visitor " + sent;
    if (body && !(body instanceof FormData)) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(body);
    }
    const r = await fetch(C.api + path, { method, headers, body, credentials: "omit" });
    const data = r.status === 204 ? null : await r.json().catch(() => null);
    if (r.ok) return data;
    const err = (data && data.error) || {};
    const e = Object.assign(new Error(err.message || S.error), {
      status: r.status, details: err.details || {}, retry: parseInt(r.headers.get("Retry-After")) || 5,
    });
    if (r.status === 401 && sent && sent === token) dropToken();
    throw e;
  }

  function dropToken() {
    token = session = null;
    store(KEY, null);
    store(OUTBOX, null);
    if (ws) ws.close();
    view();
  }

  function ensureSession(profile) {
    if (session && !profile) return session;
    const s = (session = (async () => {
      await hostWait;
      const r = await api("POST", "session/", { token, context: context(), profile });
      if (visitor && visitor !== r.visitor_id) reset();
      visitor = r.visitor_id;
      token = r.token;
      lead = r.lead;
      store(KEY, token);
      saveOutbox();
      setOnline(r.online);
      convState(r.conversation);
      view();
      sendUser();
      connect();
      sync();
    })());
    s.catch(() => { if (session === s) session = null; });
    return s;
  }
  function boot(n = 0) {
    if (token) ensureSession().catch((e) => { if (!e.status) setTimeout(() => boot(n + 1), delay(n)); });
  }

  function reset() { // another conversation (or visitor): start the list again
    held.clear();
    list.querySelectorAll(".sb-msg:not([data-client-id])").forEach((el) => el.remove());
    lastSeq = agentRead = readSeq = 0;
    loaded = hasOlder = false;
  }
  function convCheck(id) {
    if (id && conv && id !== conv) reset();
    if (id) conv = id;
  }
  function convState(c) {
    if (!c) return;
    convCheck(c.id);
    agentRead = Math.max(agentRead, c.agent_read_seq);
    readSeq = Math.max(readSeq, c.customer_read_seq);
    queued = c.queue_position;
    setBanner("q", queued && fmt(S.queue, { n: queued }));
    if (c.csat_question) rate(c.csat_question);
    refresh();
  }
  let queued, rated;
  function rate(q) {
    if (rated) return;
    const b = (rated = h("div", "sb-bubble sb-rate", q)), c = h("input");
    c.placeholder = S.comment;
    b.append(...[..."12345"].map((n) => h("button", "", n)), c);
    b.onclick = (e) => e.target.type == "submit" && api("POST", "csat/", { rating: +e.target.textContent, comment: c.value })
      .then(() => b.replaceChildren(S.rated), (e) => setBanner("err", e.message, 8000));
    list.append(b);
    scrollDown();
  }

  // Catch up from the last contiguous seq held (the newest page on first load).
  async function sync() {
    if (!token) return;
    if (syncing) return void (again = true);
    syncing = true;
    try {
      do {
        again = false;
        let more;
        do {
          const r = await api("GET", "messages/" + (loaded ? "?after=" + lastSeq : ""));
          convState(r.conversation);
          more = r.has_more;
          if (!loaded) {
            loaded = true;
            hasOlder = more;
            more = false;
            if (r.results.length) lastSeq = Math.max(lastSeq, r.results[0].seq - 1);
            r.results.forEach((m) => add(m));
          } else r.results.forEach((m) => add(m, true));
          // read before the page: notes leave gaps
          if (!more && r.conversation) lastSeq = Math.max(lastSeq, r.conversation.last_seq);
        } while (more);
      } while (again);
    } catch { /* the next ready / online event tries again */ }
    syncing = false;
    older.hidden = !hasOlder;
  }

  async function loadOlder() {
    if (loadingOlder || !hasOlder || !held.size) return;
    loadingOlder = true;
    try {
      const r = await api("GET", "messages/?before=" + Math.min(...held.keys()));
      const h0 = list.scrollHeight, t0 = list.scrollTop;
      r.results.forEach((m) => add(m));
      hasOlder = r.has_more;
      list.scrollTop = t0 + list.scrollHeight - h0;
    } catch { /* try again on the next scroll */ }
    loadingOlder = false;
    older.hidden = !hasOlder;
  }

  // --- Messages
  function add(m, fresh) {
    const mine = m.client_id && outbox.find((i) => i.id === m.client_id);
    if (mine) done(mine);
    if (held.has(m.seq)) return;
    held.set(m.seq, m);
    if (m.sender_type === "agent") agentRead = Math.max(agentRead, m.seq);
    place(render(m), m.seq);
    while (held.has(lastSeq + 1)) lastSeq++;
    if (m.seq > lastSeq) sync(); // a gap: the push channel dropped something
    if (fresh && m.direction === "out") {
      agentTyping(false);
      emit("message", { body: m.body, author_name: m.author_name, seq: m.seq });
      if (!isOpen || document.hidden) beep();
    }
    refresh();
  }

  function done(item) {
    const i = outbox.indexOf(item);
    if (i >= 0) outbox.splice(i, 1);
    item.el.remove();
    saveOutbox();
  }

  function render(m) {
    const mine = m.direction === "in", el = h("div", "sb-msg " + (mine ? "sb-in" : "sb-out"));
    const bubble = h("div", "sb-bubble");
    if (m.seq) el.dataset.seq = m.seq;
    el.dataset.who = mine ? "" : m.author_name || m.sender_type;
    if (!mine) el.append(h("div", "sb-author", m.author_name || S.someone));
    if (m.body) bubble.append(linkify(m.body));
    const files = m.attachments || [];
    for (const a of files) bubble.append(attachment(a));
    bubble.classList.toggle("sb-media", !m.body && files.length > 0 && files.every((a) => a.is_image));
    el.append(bubble, h("div", "sb-status"));
    if (m.created_at) el.title = new Date(m.created_at).toLocaleString(C.language);
    return el;
  }

  const safe = (url) => {
    try { return /^(https?|blob):$/.test(new URL(url, location.href).protocol); } catch { return false; }
  };
  function link(url, cls, text) {
    const a = h("a", cls, text);
    if (safe(url)) a.href = url;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    return a;
  }
  function linkify(text) {
    const body = h("div", "sb-body"), re = /https?:\/\/[^\s<>"]+/gi;
    let at = 0, m;
    while ((m = re.exec(text))) {
      const url = m[0].replace(/[.,;:!?)\]}'"]+$/, "");
      body.append(text.slice(at, m.index), safe(url) ? link(url, "", url) : url);
      re.lastIndex = at = m.index + url.length;
    }
    body.append(text.slice(at));
    return body;
  }
  function attachment(a) {
    const el = link(a.url, a.is_image ? "sb-thumb" : "sb-file-link");
    if (a.is_image) {
      const img = h("img");
      img.alt = a.name;
      img.src = a.url;
      img.onload = () => stick && scrollDown();
      el.append(img);
    } else {
      const kb = a.size / 1024;
      el.append(h("span", "sb-fname", a.name), h("span", "sb-fsize", kb < 1024 ? Math.ceil(kb) + " KB" : (kb / 1024).toFixed(1) + " MB"));
    }
    return el;
  }

  // Insert by seq; pending messages (no seq yet) stay at the end.
  function place(el, seq) {
    let ref = null;
    if (seq) {
      for (const c of list.children) {
        if (c.classList.contains("sb-msg") && (!c.dataset.seq || +c.dataset.seq > seq)) { ref = c; break; }
      }
    }
    list.insertBefore(el, ref);
    group(el);
    if (el.nextElementSibling) group(el.nextElementSibling);
    if (stick) scrollDown();
  }
  function group(el) { // one name label per run of one author
    const p = el.previousElementSibling, side = (x) => x.classList.contains("sb-in");
    el.classList.toggle("sb-cont",
      !!p && p.classList.contains("sb-msg") && side(p) === side(el) && p.dataset.who === el.dataset.who);
  }
  const scrollDown = () => (list.scrollTop = list.scrollHeight);
  list.addEventListener("scroll", () => {
    stick = list.scrollHeight - list.scrollTop - list.clientHeight < 60;
    if (list.scrollTop < 40) loadOlder();
  });
  older.onclick = loadOlder;

  // Statuses, unread count and read receipts after any change.
  function refresh() {
    const mine = list.querySelectorAll(".sb-in");
    mine.forEach((el, i) => {
      const item = el.item, st = el.lastChild;
      el.classList.toggle("sb-failed", !!(item && item.failed));
      st.textContent = item ? (item.failed ? S.failed : S.sending)
        : i === mine.length - 1 ? (+el.dataset.seq <= agentRead ? S.read : S.sent) : "";
    });
    markRead();
    let n = 0;
    for (const [seq, m] of held) if (seq > readSeq && m.direction === "out") n++;
    if (n !== unreadN) {
      unreadN = n;
      badge.textContent = n > 9 ? "9+" : n;
      badge.hidden = !n;
      launcher.title = n ? fmt(S.unread, { count: n }) : "";
      emit("unread", { count: n });
    }
  }
  function markRead() {
    if (!isOpen || document.hidden || !token) return;
    let top = 0, news = false;
    for (const [seq, m] of held) {
      top = Math.max(top, seq);
      if (seq > readSeq && m.direction === "out") news = true;
    }
    if (!news) return;
    readSeq = top;
    clearTimeout(readTimer); // one request for a burst of messages
    readTimer = setTimeout(() => api("POST", "read/", { seq: readSeq }).catch(() => {}), 300);
  }
  document.addEventListener("visibilitychange", refresh);

  // --- Sending: an ordered outbox, one request at a time
  function saveOutbox() {
    if (!token) return;
    const keep = outbox.filter((i) => !i.file).map((i) => ({ id: i.id, body: i.body }));
    store(OUTBOX, keep.length ? JSON.stringify(keep) : null);
  }
  function queue(item) {
    item.id = item.id || uuid();
    outbox.push(item);
    item.el = render({
      direction: "in", body: item.body,
      attachments: item.file ? [{ name: item.file.name, size: item.file.size,
        is_image: /^image\//.test(item.file.type), url: URL.createObjectURL(item.file) }] : [],
    });
    item.el.dataset.clientId = item.id;
    item.el.item = item;
    item.el.lastChild.onclick = () => {
      if (item.failed) { item.failed = false; refresh(); pump(); }
    };
    stick = true;
    place(item.el);
  }
  function send(body, file) {
    body = (body || "").trim();
    if (!body && !file) return;
    queue({ body, file });
    saveOutbox();
    refresh();
    typing(false);
    pump();
  }

  async function pump() {
    if (pumping) return;
    pumping = true;
    clearTimeout(pumpTimer);
    let item, auth = 0;
    while ((item = outbox.find((i) => !i.failed))) {
      try {
        await ensureSession();
        let body = { client_id: item.id, body: item.body };
        if (item.file) {
          body = new FormData();
          body.append("file", item.file);
          body.append("client_id", item.id);
          body.append("body", item.body);
        }
        const m = await api("POST", item.file ? "attachments/" : "messages/", body);
        pumpTries = 0;
        setBanner("net");
        done(item);
        add(m);
      } catch (e) {
        if (e.status === 429) {
          setBanner("rate", fmt(S.rate_limited, { seconds: e.retry }));
          await sleep(e.retry * 1000);
          setBanner("rate");
        } else if (e.status === 401 && auth++ < 2) {
          // the token was dropped: the next round starts a new session
        } else if (!e.status || e.status >= 500) {
          if (navigator.onLine) setBanner("net", e.status ? S.error : S.reconnecting);
          pumpTimer = setTimeout(pump, delay(pumpTries++));
          break;
        } else {
          item.failed = true;
          const reason = Object.values(e.details).flat()[0];
          setBanner("err", typeof reason === "string" ? reason : e.message, 8000);
          refresh();
        }
      }
    }
    pumping = false;
  }

  // --- Socket
  function connect() {
    clearTimeout(wsTimer);
    if (ws || !token || !navigator.onLine) return;
    const s = (ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + C.socket));
    s.onopen = () => s.send(JSON.stringify({ type: "auth", token }));
    s.onmessage = (e) => {
      let d;
      try { d = JSON.parse(e.data); } catch { return; }
      if (ws === s) pushed(d);
    };
    s.onclose = (e) => {
      if (ws !== s) return;
      ws = null;
      clearInterval(pingTimer);
      clearTimeout(pongTimer);
      if (e.code === 4401) return dropToken();
      if (e.code === 4404 || !token) return;
      if (wasReady) setBanner("net", S.reconnecting);
      wsTimer = setTimeout(connect, delay(wsTries++));
    };
  }
  function reconnect() { // network back: skip the dead socket
    if (ws) {
      ws.onclose = null;
      ws.close();
      ws = null;
    }
    clearInterval(pingTimer);
    wsTries = 0;
    connect();
  }

  function pushed(d) {
    if (d.type === "ready") {
      wsTries = 0;
      wasReady = true;
      setBanner("net");
      clearInterval(pingTimer);
      pingTimer = setInterval(() => {
        if (ws) ws.send('{"type":"ping"}');
        clearTimeout(pongTimer);
        pongTimer = setTimeout(() => ws && ws.close(), 10000);
      }, 25000);
      sync();
      pump();
    } else if (d.type === "pong") {
      clearTimeout(pongTimer);
      if (loaded && (d.last_seq > lastSeq || queued)) sync(); // a lost push; the queue moves
    }
    else if (d.type === "message.created" && d.message) {
      convCheck(d.conversation);
      add(d.message, true);
    } else if (d.type === "csat") rate(d.question);
    else if (d.type === "typing" && d.sender === "agent") agentTyping(d.typing, d.name, d.text);
    else if (d.type === "read") {
      if (d.reader === "agent") agentRead = Math.max(agentRead, d.seq);
      else readSeq = Math.max(readSeq, d.seq);
      refresh();
    }
  }

  // --- Banner: the most important notice wins
  const notices = {};
  function setBanner(k, text, ms) {
    notices[k] = text;
    if (ms) setTimeout(() => notices[k] === text && setBanner(k), ms);
    const t = ["off", "rate", "err", "net", "q"].map((x) => notices[x]).find(Boolean);
    banner.textContent = t || "";
    banner.hidden = !t;
  }
  addEventListener("offline", () => setBanner("off", S.offline));
  addEventListener("online", () => {
    setBanner("off");
    pumpTries = 0;
    if (token) {
      reconnect();
      sync();
    }
    pump();
  });
  if (!navigator.onLine) setBanner("off", S.offline);

  // --- Typing, both ways
  function typing(on) {
    clearTimeout(idleTimer);
    if (!token) return;
    if (on) {
      idleTimer = setTimeout(typing, 5000, false);
      if (Date.now() - typedAt < 3000) return;
      typedAt = Date.now();
    } else if (!typingOn) return;
    else typedAt = 0;
    typingOn = on;
    api("POST", "typing/", { typing: on }).catch(() => {});
  }
  function agentTyping(on, name, text) {
    clearTimeout(agentTypingTimer);
    typingEl.hidden = !on;
    if (!on) return;
    typingEl.lastChild.textContent = text || fmt(S.typing, { name: name || S.someone });
    agentTypingTimer = setTimeout(agentTyping, 8000, false);
    if (stick) scrollDown();
  }

  // --- Sound: a short beep (WebAudio needs a gesture in this frame first)
  addEventListener("pointerdown", () => {
    if (C.sound && !audio && window.AudioContext) audio = new AudioContext();
  });
  function beep() {
    if (!audio) return;
    const o = audio.createOscillator(), g = audio.createGain(), t = audio.currentTime;
    o.frequency.value = 880;
    g.gain.setValueAtTime(0.0001, t);
    g.gain.exponentialRampToValueAtTime(0.2, t + 0.02);
    g.gain.exponentialRampToValueAtTime(0.0001, t + 0.3);
    o.connect(g).connect(audio.destination);
    o.start(t);
    o.stop(t + 0.32);
  }

  // --- Panel
  function toggle(open) {
    if (open === isOpen) return;
    isOpen = open;
    panel.hidden = !open;
    root.classList.toggle("sb-open", open);
    launcher.setAttribute("aria-expanded", open);
    launcher.setAttribute("aria-label", open ? S.close : S.open);
    layout();
    if (!open) return void (emojis.hidden = true);
    scrollDown();
    refresh();
    if (Date.now() - statusAt > 60000) {
      statusAt = Date.now();
      api("GET", "status/").then((r) => setOnline(r.online), () => {});
    }
    if (!root.classList.contains("sb-full")) setTimeout(() => (needPrechat() ? prechat.elements[fields[0]] : input).focus(), 50);
  }
  launcher.onclick = () => toggle(!isOpen);
  $(".sb-close").onclick = () => toggle(false);
  addEventListener("keydown", (e) => e.key === "Escape" && toggle(false));

  function setOnline(on) {
    $(".sb-presence").textContent = on ? S.online : C.away_message || S.away;
    root.classList.toggle("sb-away", !on);
    view();
  }

  // --- Pre-chat form; while away, a lead form
  const ALL = ["name", "email", "phone"], fields = ALL.filter((f) => C.prechat[f] && C.prechat[f] !== "off");
  const needPrechat = () => fields.length > 0 && !token;
  const leadForm = () => !needPrechat() && !lead && root.classList.contains("sb-away");
  const btn = prechat.querySelector(".sb-start");
  function view() {
    const p = needPrechat(), l = leadForm();
    prechat.hidden = !p && !l;
    prechat.classList.toggle("sb-lead", l);
    prechat.firstElementChild.textContent = l ? S.lead_intro : S.prechat_intro;
    btn.textContent = l ? S.send : S.start;
    composer.hidden = p;
  }
  const fieldError = (f, text) => { prechat.querySelector(".sb-err-" + f).textContent = text || ""; };
  for (const f of ALL) {
    const label = h("label", fields.includes(f) ? "sb-field" : "sb-field sb-x"), inp = h("input");
    const required = C.prechat[f] === "required";
    label.append(h("span", "", S[f] + (required ? " *" : "")), inp, h("span", "sb-err sb-err-" + f));
    inp.name = f;
    inp.type = { email: "email", phone: "tel" }[f] || "text";
    inp.autocomplete = { phone: "tel" }[f] || f;
    inp.required = required;
    inp.maxLength = f === "name" ? 200 : 254;
    prechat.lastElementChild.before(label);
  }
  prechat.onsubmit = async (e) => {
    e.preventDefault();
    const l = leadForm(), profile = {};
    let bad = false;
    for (const f of l ? ALL : fields) {
      const v = prechat.elements[f].value.trim();
      const err = !v ? (!l && C.prechat[f] === "required" ? S.required : "")
        : f === "email" && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(v) ? S.invalid_email
        : f === "phone" && !/^\+?[0-9][0-9 ()./-]{4,24}$/.test(v) ? S.invalid_phone : "";
      fieldError(f, err);
      bad = bad || !!err;
      if (v) profile[f] = v;
    }
    if (l && !profile.email && !profile.phone) fieldError("email", (bad = S.lead_need));
    if (bad) return;
    btn.disabled = true;
    try {
      if (l) {
        await ensureSession();
        await api("POST", "contact/", profile);
        lead = true;
        const g = h("div", "sb-greet");
        g.append(h("div", "sb-bubble", S.lead_thanks));
        list.append(g);
        view();
        scrollDown();
      } else await ensureSession(profile);
      input.focus();
    } catch (err) {
      const d = err.details || {}, details = (l ? d : d.profile) || {};
      for (const f of ALL) fieldError(f, [].concat(details[f] || "")[0]);
      if (!Object.keys(details).length) setBanner("err", err.message, 8000);
    }
    btn.disabled = false;
  };

  // --- Composer
  const grow = () => {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight, 120) + "px";
  };
  input.addEventListener("input", () => { grow(); typing(!!input.value); });
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      composer.requestSubmit();
    }
  });
  composer.onsubmit = (e) => {
    e.preventDefault();
    if (!input.value.trim()) return;
    send(input.value);
    input.value = "";
    emojis.hidden = true;
    grow();
    input.focus();
  };

  const types = C.attachments.types || [];
  $(".sb-attach").hidden = !types.length;
  fileIn.accept = types.join(",");
  $(".sb-attach").onclick = () => fileIn.click();
  fileIn.onchange = () => {
    const f = fileIn.files[0];
    fileIn.value = "";
    if (!f) return;
    if (!types.includes(f.type)) return setBanner("err", S.file_type, 8000);
    if (f.size > C.attachments.max_bytes)
      return setBanner("err", fmt(S.file_too_large, { mb: Math.floor(C.attachments.max_bytes / 1048576) }), 8000);
    send("", f);
  };

  $(".sb-emoji").onclick = () => {
    if (!emojis.firstChild) {
      for (const em of "😀 😂 😊 😍 😉 😎 🤔 😅 😢 😮 😡 🙂 👍 👎 👏 🙏 💪 👋 🎉 ❤️ 🔥 ✅ ☕ 🚚".split(" ")) {
        const b = h("button", "", em);
        b.type = "button";
        b.onclick = () => {
          input.setRangeText(em, input.selectionStart, input.selectionEnd, "end");
          input.focus();
          input.dispatchEvent(new Event("input"));
        };
        emojis.append(b);
      }
    }
    emojis.hidden = !emojis.hidden;
  };
  document.addEventListener("click", (e) => {
    if (!e.target.closest(".sb-emojis, .sb-emoji")) emojis.hidden = true;
  });

  // --- Start: read storage only; a returning visitor resumes at once
  setOnline(C.online);
  view();
  if (token) {
    try {
      for (const i of JSON.parse(store(OUTBOX) || "[]")) queue(i);
    } catch { /* ignore a damaged outbox */ }
    boot();
    pump();
  }
})();
