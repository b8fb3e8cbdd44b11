// lifeline's web client: one WebSocket speaking docs/PROTOCOL.md's JSON-RPC, plain DOM, no
// framework and no build step. The gateway serves this file and xterm.js (pinned by
// runtime/web/package-lock.json, compiled in); nothing is loaded from anywhere else.
"use strict";

const HELD = "lifeline.sessions"; // sessionStorage: ids this tab holds, resumed on reload
const $ = (id) => document.getElementById(id);

function setState(state, message) {
  document.body.dataset.state = state;
  $("status").textContent = message || state;
}

// ---------------------------------------------------------------- login

// docs/PROTOCOL.md section 6: the token is POSTed to /login, which sets this gateway's
// HttpOnly cookie; it never travels in a URL the server or a proxy sees.
async function signIn(token) {
  const r = await fetch("/login", { method: "POST", body: token, credentials: "same-origin",
                                    headers: { "Content-Type": "text/plain" } });
  if (r.status === 204) return true;
  if (r.status === 429) {
    const wait = r.headers.get("Retry-After") || "a few";
    $("login-message").textContent = "Too many failed attempts from here; try again in " + wait + " s.";
  } else {
    $("login-message").textContent = "That token was refused.";
  }
  setState("login", "sign in with the gateway's token");
  return false;
}

$("login-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const token = $("token").value;
  $("token").value = "";
  if (await signIn(token)) connect();
});

// The printed link carries the token in the fragment (#token=...), which no server sees;
// an old ?token= link works too. Either way it leaves the address bar at once.
function tokenInAddress() {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
  const fromQuery = new URLSearchParams(location.search).get("token");
  if (fromHash === null && fromQuery === null) return null;
  history.replaceState(null, "", "/");
  return fromHash !== null ? fromHash : fromQuery;
}

// ---------------------------------------------------------------- the connection

let ws = null;
let nextId = 1;
const pending = new Map(); // request id -> {resolve, reject}

function call(method, params = {}) {
  return new Promise((resolve, reject) => {
    if (!ws || ws.readyState !== WebSocket.OPEN) return reject(new Error("not connected"));
    const id = nextId++;
    pending.set(id, { resolve, reject });
    ws.send(JSON.stringify({ jsonrpc: "2.0", id, method, params }));
  });
}

// The page never dead-ends: a lost or refused socket is retried with backoff, and the
// sign-in form comes back only when the gateway says the cookie is not valid (401).
let retryMs = 500;
function reconnectLater(why) {
  setState("reconnecting", why + "; retrying in " + Math.round(retryMs / 1000 + 0.4) + " s…");
  setTimeout(connect, retryMs);
  retryMs = Math.min(retryMs * 2, 15000);
}

async function onRefused() {
  // A browser does not say why an upgrade failed; GET /login does (204: the cookie is
  // valid, 401: it is not).
  let status = 0;
  try {
    status = (await fetch("/login", { credentials: "same-origin" })).status;
  } catch {
    return reconnectLater("the gateway is unreachable");
  }
  if (status === 401) {
    $("login-message").textContent = "Sign in again: the gateway no longer accepts this browser's sign-in.";
    return setState("login", "sign in with the gateway's token");
  }
  reconnectLater(status === 204 ? "the gateway refused this page's connection" : "the gateway answered " + status);
}

function connect() {
  if (ws && ws.readyState <= WebSocket.OPEN) return; // one socket per page
  setState("connecting", "connecting…");
  let ready = false;
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  ws = new WebSocket(scheme + location.host + "/ws"); // the cookie is the credential
  ws.onmessage = (m) => {
    const msg = JSON.parse(m.data);
    if (msg.method === "event") {
      if (msg.params.type === "gateway.ready") {
        ready = true;
        retryMs = 500;
        setState("connected", "connected (" + msg.params.payload.connection_id + ")");
        // Behind a proxy with several gateways (deploy/nginx/), come back to this one:
        // its sessions are its host's processes.
        const grace = msg.params.payload.orphan_grace_s;
        $("keep-for").textContent = grace > 0 ? " (for " + describeSeconds(grace) + ")" : " (until closed or idle)";
        const instance = msg.params.payload.instance;
        if (instance) document.cookie = "lifeline_gw=" + encodeURIComponent(instance) + "; Path=/; SameSite=Strict";
        onReady();
      } else {
        onEvent(msg.params);
      }
      return;
    }
    const p = pending.get(msg.id);
    if (!p) return;
    pending.delete(msg.id);
    if (msg.error) p.reject(Object.assign(new Error(msg.error.message), { code: msg.error.code }));
    else p.resolve(msg.result);
  };
  ws.onclose = () => {
    for (const p of pending.values()) p.reject(new Error("connection closed"));
    pending.clear();
    if (!ready) return onRefused();
    reconnectLater("connection lost");
  };
}

function describeSeconds(n) {
  if (n < 120) return n + " s";
  if (n < 7200) return Math.round(n / 60) + " min";
  return Math.round(n / 3600) + " h";
}

// ---------------------------------------------------------------- sessions

const sessions = new Map(); // id -> view model
let selected = null;

function held() {
  try { return JSON.parse(sessionStorage.getItem(HELD) || "[]"); } catch { return []; }
}
function hold(id, yes) {
  const ids = new Set(held());
  if (yes) ids.add(id); else ids.delete(id);
  sessionStorage.setItem(HELD, JSON.stringify([...ids]));
}

function model(id) {
  if (!sessions.has(id)) {
    sessions.set(id, { id, key: "", title: "", status: "", mine: false, ended: null,
                       entries: [], more: false, loaded: false, terminals: new Map() });
  }
  return sessions.get(id);
}

async function onReady() {
  // A reload resumes what this tab held (docs/PROTOCOL.md: the same id if it is live, a new
  // one continuing its history if it was closed and stored).
  for (const id of held()) {
    try {
      const r = await call("session.resume", { session_id: id });
      if (r.session_id !== id) { hold(id, false); hold(r.session_id, true); }
      model(r.session_id).mine = true;
      if (!selected) selected = r.session_id;
      await reattachTerminals(model(r.session_id));
    } catch (e) {
      hold(id, false);
    }
  }
  await refresh();
}

async function refresh() {
  const { sessions: list } = await call("session.active_list");
  const live = new Set();
  for (const s of list) {
    const m = model(s.session_id);
    Object.assign(m, { key: s.session_key, title: s.title, status: s.status });
    live.add(s.session_id);
  }
  for (const [id, m] of sessions) if (!live.has(id) && !m.ended && !m.mine) sessions.delete(id);
  render();
}

$("create-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const params = { close_on_disconnect: !$("new-keep").checked };
  if ($("new-title").value) params.title = $("new-title").value;
  try {
    const r = await call("session.create", params);
    const m = model(r.session_id);
    m.mine = true;
    hold(r.session_id, true);
    selected = r.session_id;
    $("new-title").value = "";
    await refresh();
  } catch (err) {
    alert("could not create a session: " + err.message);
  }
});

async function resume(id) {
  const r = await call("session.resume", { session_id: id });
  const m = model(r.session_id);
  m.mine = true;
  m.ended = null;
  m.takenOver = false;
  hold(r.session_id, true);
  selected = r.session_id;
  await reattachTerminals(m);  // what ran while another tab held it is replayed
  await refresh();
}

async function closeSession(id) {
  await call("session.close", { session_id: id });
  hold(id, false);
}

function render() {
  const ul = $("sessions");
  ul.replaceChildren();
  for (const m of sessions.values()) {
    const li = document.createElement("li");
    li.dataset.sessionId = m.id;
    li.dataset.status = m.ended ? "ended" : m.status;
    if (m.id === selected) li.classList.add("selected");
    const title = document.createElement("span");
    title.className = "title";
    title.textContent = m.title || m.id;
    const badge = document.createElement("span");
    badge.className = "badge" + (m.ended ? " ended" : "");
    badge.textContent = m.ended ? m.ended
      : m.takenOver ? "taken over by another tab"
      : m.status + (m.mine ? "" : " (elsewhere)");
    li.append(title, badge);
    if (!m.ended && !m.mine) li.append(button(m.takenOver ? "Take back" : "Resume", () => resume(m.id)));
    if (!m.ended) li.append(button("Close", () => closeSession(m.id)));
    li.addEventListener("click", (e) => { if (e.target === li || e.target === title) select(m.id); });
    ul.append(li);
  }
  renderSession();
}

function button(text, onClick) {
  const b = document.createElement("button");
  b.textContent = text;
  b.addEventListener("click", (e) => { e.stopPropagation(); onClick().catch((err) => alert(err.message)); });
  return b;
}

function select(id) {
  selected = id;
  render();
}

// ---------------------------------------------------------------- one session

async function renderSession() {
  const m = selected && sessions.get(selected);
  $("session").hidden = !m;
  if (!m) return;
  $("session-title").textContent = m.title || m.id;
  $("session-ended").hidden = !m.ended && !m.takenOver;
  $("session-ended").textContent = m.ended ? "This session ended: " + m.ended
    : m.takenOver ? "Another tab took this session over; typing here is off until you take it back." : "";
  $("exec-form").hidden = !!m.ended || !m.mine;
  $("open-terminal").hidden = !!m.ended || !m.mine;
  if (!m.loaded && m.key) {
    m.loaded = true;
    await loadHistory(m);
  }
  renderTranscript(m);
  for (const [ptyId, t] of m.terminals) if (!t.el.isConnected) $("terminals").append(t.el);
  for (const el of document.querySelectorAll("#terminals > .term"))
    el.hidden = el.dataset.sessionId !== m.id;
  for (const t of m.terminals.values()) t.view.fit(); // a pane shown again may have a new size
}

async function loadHistory(m, beforeSeq) {
  const params = { session_key: m.key, limit: 50 };
  if (beforeSeq) params.before_seq = beforeSeq;
  const r = await call("session.history", params);
  m.entries = r.entries.concat(beforeSeq ? m.entries : []);
  m.more = r.more;
}

$("older").addEventListener("click", async () => {
  const m = sessions.get(selected);
  if (!m || !m.entries.length) return;
  await loadHistory(m, m.entries[0].seq);
  renderTranscript(m);
});

function renderTranscript(m) {
  $("older").hidden = !m.more;
  const ol = $("transcript");
  ol.replaceChildren();
  for (const e of m.entries) {
    const li = document.createElement("li");
    li.dataset.seq = e.seq;
    const cmd = document.createElement("div");
    cmd.className = "cmd";
    cmd.textContent = "> " + e.command;
    const out = document.createElement("div");
    out.className = e.running ? "running" : e.ok ? "out" : "err";
    out.textContent = e.running ? "running…" : e.ok ? e.output : e.error;
    if (e.running) li.dataset.running = "yes";
    li.append(cmd, out);
    ol.append(li);
  }
  ol.scrollTop = ol.scrollHeight;
}

$("exec-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const m = sessions.get(selected);
  const command = $("command").value.trim();
  if (!m || !command) return;
  $("command").value = "";
  // The command is echoed at once, marked running until its answer replaces the mark.
  const entry = { seq: 0, command, ok: true, output: "", running: true };
  m.entries.push(entry);
  if (selected === m.id) renderTranscript(m);
  try {
    const r = await call("slash.exec", { session_id: m.id, command });
    Object.assign(entry, { seq: r.seq, ok: r.ok, output: r.output, error: r.error });
  } catch (err) {
    Object.assign(entry, { ok: false, error: err.message });
  }
  entry.running = false;
  if (selected === m.id) renderTranscript(m);
});

// ---------------------------------------------------------------- terminals

const encoder = new TextEncoder();
function toBase64(text) {
  let bin = "";
  for (const b of encoder.encode(text)) bin += String.fromCharCode(b);
  return btoa(bin);
}
function fromBase64(data) {
  return Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
}

$("open-terminal").addEventListener("click", async () => {
  const m = sessions.get(selected);
  if (!m) return;
  const t = addTerminal(m, null);
  try {
    const { pty_id } = await call("pty.open", { session_id: m.id, cols: t.view.cols(), rows: t.view.rows() });
    bindTerminal(m, t, pty_id, 0);
    t.view.focus();
  } catch (err) {
    t.el.remove();
    alert("could not open a terminal: " + err.message);
  }
});

// A reload, or taking a session back: every terminal it has is drawn again from the
// gateway's replay (docs/PROTOCOL.md pty.list, pty.attach), then follows live output.
async function reattachTerminals(m) {
  const { terminals } = await call("pty.list", { session_id: m.id });
  const listed = new Set(terminals.map((x) => x.pty_id));
  for (const [ptyId, t] of m.terminals) if (!listed.has(ptyId)) { t.el.remove(); m.terminals.delete(ptyId); }
  for (const info of terminals) {
    let t = m.terminals.get(info.pty_id);
    if (t) t.view.reset();
    else t = addTerminal(m, info.pty_id);
    t.end = Infinity; // output events wait for the answer below
    m.terminals.set(info.pty_id, t);
    try {
      const r = await call("pty.attach", { pty_id: info.pty_id });
      // Drawn at the size it was written for; the fit that follows resizes the PTY when
      // this page's pane differs, and a full-screen program redraws for it.
      t.view.term.resize(r.cols, r.rows);
      t.view.write(fromBase64(r.modes));
      t.view.write(fromBase64(r.data));
      bindTerminal(m, t, info.pty_id, r.end);
      if (r.exited) t.view.exited(r.status);
      else t.view.fit();
    } catch (err) {
      t.view.exited("unknown (" + err.message + ")");
    }
  }
}

function addTerminal(m, ptyId) {
  const view = makeTerminalView();
  view.el.dataset.sessionId = m.id;
  if (ptyId) view.el.dataset.ptyId = ptyId;
  const t = { id: ptyId, view, el: view.el, end: Infinity };
  $("terminals").append(view.el);
  view.fit();
  return t;
}

function bindTerminal(m, t, ptyId, end) {
  t.id = ptyId;
  t.end = end;
  t.el.dataset.ptyId = ptyId;
  m.terminals.set(ptyId, t);
  wireTerminal(t, true);
}

// Connects a terminal view's keys, size and close to its pty, or (taken over) disconnects
// them so that nothing typed in this tab reaches the session's new holder.
function wireTerminal(t, on) {
  const pty_id = t.id;
  t.view.onInput = on ? (text) => call("pty.write", { pty_id, data: toBase64(text) }).catch(() => {}) : null;
  t.view.onResize = on ? (cols, rows) => call("pty.resize", { pty_id, cols, rows }).catch(() => {}) : null;
  t.view.onClose = on ? () => call("pty.close", { pty_id }).catch(() => {}) : null;
  t.el.dataset.takenOver = on ? "" : "yes";
}

function findTerminal(ptyId) {
  for (const m of sessions.values()) if (m.terminals.has(ptyId)) return m.terminals.get(ptyId);
  return null;
}

// xterm.js, fitted to its pane: a window or pane resize changes rows and columns and
// reaches the PTY (pty.resize), so the program sees the size the page shows.
function makeTerminalView() {
  const el = document.createElement("div");
  el.className = "term"; // not "terminal": xterm.js gives its own element that class
  const bar = terminalBar(el);
  const box = document.createElement("div");
  box.className = "screen";
  box.dataset.testid = "terminal"; // a stable hook for tests: its text is the screen
  el.append(bar.el, box);
  const term = new window.Terminal({
    cursorBlink: true, scrollback: 5000, fontSize: 13,
    fontFamily: "ui-monospace, 'DejaVu Sans Mono', monospace",
  });
  const fit = new window.FitAddon.FitAddon();
  term.loadAddon(fit);
  term.open(box);
  box.xterm = term; // for tests that read cells (tests/browser/page.py)
  const view = {
    el, term,
    cols: () => term.cols, rows: () => term.rows, focus: () => term.focus(),
    write: (bytes) => term.write(bytes),
    reset: () => term.reset(),
    exited: (status) => bar.exited(status),
    fit: () => { if (box.clientWidth > 0 && box.clientHeight > 0) fit.fit(); },
  };
  term.onData((d) => view.onInput && view.onInput(d));
  term.onResize(({ cols, rows }) => view.onResize && view.onResize(cols, rows));
  new ResizeObserver(() => view.fit()).observe(box);
  bar.onClose = () => view.onClose && view.onClose();
  return view;
}

function terminalBar(el) {
  const bar = document.createElement("div");
  bar.className = "bar";
  const label = document.createElement("span");
  label.textContent = "terminal";
  const close = document.createElement("button");
  close.textContent = "Close terminal";
  const api = {
    el: bar,
    onClose: null,
    exited(status) {
      label.textContent = "terminal exited with status " + status;
      el.dataset.exitStatus = status;
      close.textContent = "Remove";
    },
  };
  close.addEventListener("click", () => {
    // Closing an exited terminal also makes the gateway forget it (pty.close).
    if (api.onClose) api.onClose();
    el.remove();
    for (const m of sessions.values()) if (m.terminals.has(el.dataset.ptyId)) m.terminals.delete(el.dataset.ptyId);
  });
  bar.append(label, close);
  return api;
}

// ---------------------------------------------------------------- events

// docs/PROTOCOL.md section 4, in words a person reads.
const endReasons = {
  client_close: "closed",
  ws_disconnect: "ended when its tab disconnected",
  orphan_grace: "ended: nobody came back for it in time",
  idle_timeout: "ended after being idle too long",
  lru_evict: "ended to make room for a new session",
  shutdown: "ended: the gateway shut down",
};

function onEvent(ev) {
  const p = ev.payload || {};
  switch (ev.type) {
    case "pty.output": {
      // Output the attach answer already held (offset below its end) is not drawn twice.
      const t = findTerminal(p.pty_id);
      if (t && (p.offset === undefined || p.offset >= t.end)) t.view.write(fromBase64(p.data));
      break;
    }
    case "pty.exit": {
      const t = findTerminal(p.pty_id);
      if (t) t.view.exited(p.status);
      break;
    }
    case "session.closed": {
      const m = model(ev.session_id);
      m.ended = endReasons[p.reason] || "ended (" + p.reason + ")";
      m.mine = false;
      hold(ev.session_id, false);
      for (const t of m.terminals.values()) t.view.exited("-");
      render();
      break;
    }
    case "session.taken_over": {
      // docs/PROTOCOL.md: this connection is revoked (4009) until it resumes the session.
      // Stop sending input at once, and offer to take it back.
      const m = model(ev.session_id);
      m.takenOver = true;
      m.mine = false;
      hold(ev.session_id, false);
      for (const t of m.terminals.values()) wireTerminal(t, false);
      render();
      break;
    }
    case "worker.exit": {
      const m = sessions.get(ev.session_id);
      if (m) {
        m.entries.push({ seq: 0, command: "(worker)", ok: false, error: "worker " + p.pid + " exited with status " + p.status });
        if (selected === m.id) renderTranscript(m);
      }
      break;
    }
  }
}

// A link pasted into a tab already showing the page changes only the fragment: no reload.
window.addEventListener("hashchange", async () => {
  const token = tokenInAddress();
  if (token !== null && (await signIn(token))) connect();
});

(async () => {
  const token = tokenInAddress();
  if (token !== null) {
    if (await signIn(token)) connect();
  } else if (document.body.dataset.state === "connecting") {
    connect();
  } else {
    setState("login", "sign in with the gateway's token");
  }
})();
