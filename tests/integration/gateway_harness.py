"""Starts real lifeline-gateway processes and audits the process tree they own.

Written against docs/PROTOCOL.md with independent libraries (Debian's python3-websockets
and python3-psutil), as any client would be.
"""
import asyncio
import atexit
import base64
import ctypes
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

import psutil
import websockets

BUILD = os.environ.get("LIFELINE_BUILD", os.path.join(os.path.dirname(__file__), "../../build/default"))
GATEWAY = os.path.join(BUILD, "runtime/lifeline-gateway")


def sanitized_build():
    """True for an ASan/UBSan or TSan build: memory figures (RSS) mean nothing there."""
    try:
        with open(os.path.join(BUILD, "CMakeCache.txt")) as f:
            return any(line.startswith("LIFELINE_SANITIZE:") and line.strip().split("=", 1)[1]
                       for line in f)
    except OSError:
        return False


# Orphans of a gateway we SIGKILL must be reaped by someone: make it us (the nearest
# subreaper), so that "gone" means gone, whatever init this machine has.
_PR_SET_CHILD_SUBREAPER = 36
ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
_our_gateways = set()


# One definition of "the cgroup v2 directory we run in", shared with CI's leftovers check.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "ci", "lib"))
from leftovers import own_cgroup_root as _own_cgroup2_dir  # noqa: E402


def _lifeline_cgroups(root):
    try:
        return {n for n in os.listdir(root) if n.startswith("lifeline-")}
    except (OSError, TypeError):
        return set()


_CGROUP_ROOT = _own_cgroup2_dir()
_CGROUPS_BEFORE = _lifeline_cgroups(_CGROUP_ROOT)


def _remove_our_cgroups():
    """The tests leave nothing on the host: a gateway SIGKILLed on a throwaway state dir
    leaves its (empty) cgroups, which no later start on that dir will sweep. Removes
    those made during this run, deepest first; a populated one is left and reported."""
    for name in sorted(_lifeline_cgroups(_CGROUP_ROOT) - _CGROUPS_BEFORE):
        top = os.path.join(_CGROUP_ROOT, name)
        for dirpath, _, _ in sorted(os.walk(top), key=lambda w: -w[0].count("/")):
            try:
                os.rmdir(dirpath)
            except OSError as e:
                print(f"gateway_harness: cannot remove cgroup {dirpath}: {e}", file=sys.stderr)


atexit.register(_remove_our_cgroups)


def reap_adopted():
    """Reaps zombies reparented to us, never the gateways we started (Popen owns those)."""
    for child in psutil.Process().children():
        if child.pid in _our_gateways:
            continue
        try:
            if child.status() == psutil.STATUS_ZOMBIE:
                os.waitpid(child.pid, os.WNOHANG)
        except (psutil.NoSuchProcess, ChildProcessError):
            pass


def wait_until(predicate, timeout=5.0, interval=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reap_adopted()
        if predicate():
            return True
        time.sleep(interval)
    reap_adopted()
    return predicate()


async def until(predicate, timeout):
    """wait_until for async tests: lets the event loop deliver frames meanwhile."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.02)
    return predicate()


def sleepers(marks):
    """pid of each `sleep <mark>` alive now (zombies count): tests mark their processes
    by a distinct sleep length."""
    found = {}
    for p in psutil.process_iter(["cmdline"]):
        cmd = p.info["cmdline"] or []
        if len(cmd) == 2 and cmd[0].endswith("sleep") and cmd[1] in marks:
            found[cmd[1]] = p.pid
    return found


class ShowsGatewayLog:
    """Mixed into a TestCase with a `gw`: on a failure, print what the gateway logged -
    the first thing anyone asks for."""

    def run(self, result=None):
        failures = len(result.failures) + len(result.errors) if result else 0
        out = super().run(result)
        if result and len(result.failures) + len(result.errors) > failures and hasattr(self, "gw"):
            print("\n--- gateway log ---\n" + "\n".join(self.gw.log[-60:]), file=sys.stderr)
        return out


def http_get(port, path):
    """One plain HTTP/1.1 GET to the gateway; the whole response, headers included."""
    import socket
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return data.decode()


def alive(pid):
    """True for a running process; a zombie counts as alive (it is a leak too)."""
    try:
        return psutil.Process(pid).status() is not None
    except psutil.NoSuchProcess:
        return False


SANITIZER_REPORT = re.compile(r"ERROR: AddressSanitizer|WARNING: ThreadSanitizer|"
                              r"ERROR: LeakSanitizer|runtime error: ")


class Gateway:
    def __init__(self, *args, state_dir=None, port=0, env=None, preexec_fn=None):
        self.preexec_fn = preexec_fn
        self.state_dir = state_dir or tempfile.mkdtemp(prefix="lifeline-test-")
        # The leak tests count every descendant of the gateway, so they run without the
        # warm pool's idle workers unless they ask for it (test_pool.py does).
        self.args = list(args)
        if not any(a.startswith("--worker-pool") for a in self.args):
            self.args += ["--worker-pool", "0"]
        self.port = port
        self.env = dict(os.environ, **(env or {}))
        self.proc = None
        self.log = []
        self.url = None
        self.token = None

    def start(self):
        cmd = [GATEWAY, "--listen", f"127.0.0.1:{self.port}", "--state-dir", self.state_dir] + self.args
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, env=self.env, text=True,
                                     preexec_fn=self.preexec_fn)
        _our_gateways.add(self.proc.pid)
        ready = threading.Event()

        def drain():
            for line in self.proc.stderr:
                self.log.append(line.rstrip("\n"))
                m = re.match(r"listening (ws://[^ ]+)", line)
                if m:
                    self.url = m.group(1)
                    ready.set()
            ready.set()

        self.drainer = threading.Thread(target=drain, daemon=True)
        self.drainer.start()
        if not ready.wait(10) or not self.url:
            raise RuntimeError("gateway did not start:\n" + "\n".join(self.log))
        self.port = int(self.url.rsplit(":", 1)[1].split("/")[0])
        if "--token" in self.args:
            self.token = self.args[self.args.index("--token") + 1]
        else:
            with open(os.path.join(self.state_dir, "token")) as f:
                self.token = f.read().strip()
        return self

    @property
    def pid(self):
        return self.proc.pid

    def descendants(self):
        try:
            return {p.pid for p in psutil.Process(self.pid).children(recursive=True)}
        except psutil.NoSuchProcess:
            return set()

    def fd_count(self):
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def zombies(self):
        out = []
        for pid in self.descendants():
            try:
                if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                    out.append(pid)
            except psutil.NoSuchProcess:
                pass
        return out

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.assert_no_sanitizer_report()
        return self.proc.returncode

    def assert_no_sanitizer_report(self):
        """In sanitizer builds a report in the gateway's log is a failure of the test
        that ran it, even when the gateway went on serving."""
        if self.proc and self.proc.poll() is not None:
            self.drainer.join(5)
        reports = [line for line in self.log if SANITIZER_REPORT.search(line)]
        if reports:
            raise AssertionError("sanitizer report from the gateway:\n" + "\n".join(self.log))

    async def connect(self, **kw):
        return await Client.open(f"{self.url}?token={self.token}", **kw)


class Client:
    """A JSON-RPC client over one WebSocket."""

    def __init__(self, ws):
        self.ws = ws
        self.next_id = 1
        self.pending = {}
        self.events = []
        self.reader = asyncio.ensure_future(self._read())

    @classmethod
    async def open(cls, url, **kw):
        ws = await websockets.connect(url, ping_interval=None, max_size=None, **kw)
        client = cls(ws)
        return client

    async def _read(self):
        try:
            async for frame in self.ws:
                msg = json.loads(frame)
                if msg.get("method") == "event":
                    self.events.append(msg["params"])
                elif msg.get("id") in self.pending:
                    self.pending.pop(msg["id"]).set_result(msg)
                else:
                    self.events.append({"type": "orphan-reply", "payload": msg})
        except websockets.ConnectionClosed:
            pass
        for fut in self.pending.values():
            if not fut.done():
                fut.set_exception(ConnectionError("closed"))

    async def call(self, method, timeout=10, **params):
        rid = self.next_id
        self.next_id += 1
        fut = asyncio.get_running_loop().create_future()
        self.pending[rid] = fut
        await self.ws.send(json.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": params}))
        return await asyncio.wait_for(fut, timeout)

    async def result(self, method, **params):
        msg = await self.call(method, **params)
        if "error" in msg:
            raise AssertionError(f"{method} failed: {msg['error']}")
        return msg["result"]

    async def send_raw(self, text):
        await self.ws.send(text)

    async def close(self):
        await self.ws.close()
        await self.reader

    def abort(self):
        """Drops the TCP connection without a close frame (a crashed tab, a dead proxy)."""
        self.ws.transport.abort()


def b64(text):
    return base64.b64encode(text.encode()).decode()
