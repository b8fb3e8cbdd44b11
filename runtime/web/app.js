// lifeline's web client: one WebSocket speaking docs/PROTOCOL.md's JSON-RPC, plain DOM, no
// framework and no build step. The gateway serves this file; nothing is loaded from
// anywhere else. Terminals use xterm.js when the gateway serves a working one under
// /assets/xterm/, else a plain <pre> that understands enough of a terminal for a shell.
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
  if (m.takenOver) {
    m.takenOver = false;
    for (const t of m.terminals.values()) wireTerminal(t, true);
  }
  hold(r.session_id, true);
  selected = r.session_id;
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
  for (const el of document.querySelectorAll(".terminal"))
    el.hidden = el.dataset.sessionId !== m.id;
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
    out.className = e.ok ? "out" : "err";
    out.textContent = e.ok ? e.output : e.error;
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
  try {
    const r = await call("slash.exec", { session_id: m.id, command });
    m.entries.push({ seq: r.seq, command, ok: r.ok, output: r.output, error: r.error });
  } catch (err) {
    m.entries.push({ seq: 0, command, ok: false, error: err.message });
  }
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
  const view = makeTerminalView();
  try {
    const { pty_id } = await call("pty.open", { session_id: m.id, cols: view.cols(), rows: view.rows() });
    const t = { id: pty_id, view, el: view.el };
    view.el.dataset.sessionId = m.id;
    view.el.dataset.ptyId = pty_id;
    wireTerminal(t, true);
    m.terminals.set(pty_id, t);
    $("terminals").append(view.el);
    view.focus();
  } catch (err) {
    alert("could not open a terminal: " + err.message);
  }
});

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

// xterm.js when the served copy works (Debian 12's libjs-xterm ships a CommonJS stub
// that does not run in a browser), else the plain view below.
function makeTerminalView() {
  return typeof window.Terminal === "function" ? xtermView() : plainView();
}

function xtermView() {
  const el = document.createElement("div");
  el.className = "terminal";
  const bar = terminalBar(el);
  const box = document.createElement("div");
  box.dataset.testid = "terminal"; // a stable hook for tests: its text is the screen
  el.append(bar.el, box);
  const term = new window.Terminal({ cols: 80, rows: 24 });
  term.open(box);
  const decoder = new TextDecoder();
  const view = {
    el, cols: () => term.cols, rows: () => term.rows, focus: () => term.focus(),
    write: (bytes) => term.write(decoder.decode(bytes, { stream: true })),
    exited: (status) => bar.exited(status),
  };
  term.onData((d) => view.onInput && view.onInput(d));
  bar.onClose = () => view.onClose && view.onClose();
  return view;
}

// A <pre> terminal: output with escape sequences dropped and \r, \b, \n honoured; keys
// sent as a terminal sends them. Enough for a shell, not for full-screen programs.
function plainView() {
  const el = document.createElement("div");
  el.className = "terminal";
  const bar = terminalBar(el);
  const pre = document.createElement("pre");
  pre.dataset.testid = "terminal"; // a stable hook for tests: its text is the screen
  pre.tabIndex = 0;
  el.append(bar.el, pre);
  const decoder = new TextDecoder();
  let lines = [""];
  let col = 0;
  let pendingEscape = "";
  const maxLines = 2000; // bounded, like everything else
  function put(text) {
    text = pendingEscape + text;
    pendingEscape = "";
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      if (c === "\x1b") {
        // CSI ... final byte, OSC ... BEL/ST, or a two-byte escape: skip it whole.
        const rest = text.slice(i);
        const m = /^\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])/.exec(rest);
        if (!m) { pendingEscape = rest; break; }
        i += m[0].length - 1;
      } else if (c === "\r") {
        col = 0;
      } else if (c === "\n") {
        lines.push("");
        col = 0;
        if (lines.length > maxLines) lines = lines.slice(-maxLines);
      } else if (c === "\b") {
        col = Math.max(0, col - 1);
      } else if (c === "\x07") {
        // bell: nothing
      } else if (c >= " ") {
        const line = lines[lines.length - 1];
        lines[lines.length - 1] = line.slice(0, col).padEnd(col, " ") + c + line.slice(col + 1);
        col++;
      }
    }
    pre.textContent = lines.join("\n");
    pre.scrollTop = pre.scrollHeight;
  }
  const keys = { Enter: "\r", Backspace: "\x7f", Tab: "\t", Escape: "\x1b", ArrowUp: "\x1b[A",
                 ArrowDown: "\x1b[B", ArrowRight: "\x1b[C", ArrowLeft: "\x1b[D", Home: "\x1b[H",
                 End: "\x1b[F", Delete: "\x1b[3~" };
  const view = {
    el,
    cols: () => Math.max(20, Math.floor((pre.clientWidth || 640) / 8)),
    rows: () => Math.max(5, Math.floor((pre.clientHeight || 384) / 16)),
    focus: () => pre.focus(),
    write: (bytes) => put(decoder.decode(bytes, { stream: true })),
    exited: (status) => bar.exited(status),
  };
  pre.addEventListener("keydown", (e) => {
    let data = null;
    if (e.ctrlKey && e.key.length === 1 && /[a-z]/i.test(e.key)) {
      data = String.fromCharCode(e.key.toUpperCase().charCodeAt(0) - 64);
    } else if (keys[e.key]) {
      data = keys[e.key];
    } else if (e.key.length === 1 && !e.metaKey) {
      data = e.key;
    }
    if (data === null) return;
    e.preventDefault();
    if (view.onInput) view.onInput(data);
  });
  pre.addEventListener("paste", (e) => {
    e.preventDefault();
    if (view.onInput) view.onInput(e.clipboardData.getData("text").replace(/\n/g, "\r"));
  });
  new ResizeObserver(() => view.onResize && view.onResize(view.cols(), view.rows())).observe(pre);
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
    if (el.dataset.exitStatus === undefined && api.onClose) api.onClose();
    el.remove();
  });
  bar.append(label, close);
  return api;
}

// ---------------------------------------------------------------- events

function onEvent(ev) {
  const p = ev.payload || {};
  switch (ev.type) {
    case "pty.output": {
      const t = findTerminal(p.pty_id);
      if (t) t.view.write(fromBase64(p.data));
      break;
    }
    case "pty.exit": {
      const t = findTerminal(p.pty_id);
      if (t) t.view.exited(p.status);
      break;
    }
    case "session.closed": {
      const m = model(ev.session_id);
      m.ended = "closed (" + p.reason + ")";
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
