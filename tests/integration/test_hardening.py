"""Integration tests for the holes a hostile probe found (issue 12): terminals that
outlived a SIGKILLed gateway, admission edges, byte bounds, slow peers, fd exhaustion.

Each test measures the real thing (processes via psutil and /proc, the gateway's fds,
its log size), and bounds liveness generously.
"""
import asyncio
import base64
import json
import os
import shutil
import signal
import socket
import tempfile
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from gateway_harness import Gateway, ShowsGatewayLog, alive, b64, sleepers, until, wait_until  # noqa: E402

import psutil  # noqa: E402
import websockets  # noqa: E402

# A terminal's worst tenants (issue 12): each marked by a distinct sleep length.
STUBBORN = [
    ("background", "sleep 1101 &"),
    ("nohup", "nohup sleep 1102 >/dev/null 2>&1 &"),
    ("ignores HUP and TERM", "(trap '' HUP TERM; exec sleep 1103) &"),
    ("setsid", "setsid sleep 1104 &"),
    ("double fork", "(setsid sleep 1105 &) &"),
]


class HardeningTest(ShowsGatewayLog, unittest.IsolatedAsyncioTestCase):
    gateway_args = ("--orphan-grace", "30", "--ping-interval", "1", "--ping-timeout", "1")
    env = None

    async def asyncSetUp(self):
        self.gw = Gateway(*self.gateway_args, env=self.env).start()

    async def asyncTearDown(self):
        self.gw.stop()

    def output(self, client, pty):
        return "".join(base64.b64decode(e["payload"]["data"]).decode(errors="replace")
                       for e in client.events
                       if e.get("type") == "pty.output" and e["payload"]["pty_id"] == pty)

    async def stubborn_terminal(self, client, sid):
        """Opens a terminal and starts every kind of stubborn background process in it."""
        pty = (await client.result("pty.open", session_id=sid, cols=80, rows=24))["pty_id"]
        self.assertTrue(await until(lambda: self.output(client, pty), 10), "no prompt")
        script = "".join(cmd + "\n" for _, cmd in STUBBORN) + "echo started-$((40+2))\n"
        await client.result("pty.write", pty_id=pty, data=b64(script))
        self.assertTrue(await until(lambda: "started-42" in self.output(client, pty), 10))
        marks = [cmd.split("sleep ")[1].split()[0].rstrip(")") for _, cmd in STUBBORN]
        self.assertTrue(wait_until(lambda: len(sleepers(marks)) == len(marks), 5),
                        f"only {sleepers(marks)} of {marks} started")
        return pty, sleepers(marks)

    def assert_gone(self, pids, timeout):
        ok = wait_until(lambda: not any(alive(p) for p in pids.values()), timeout)
        left = {m: p for m, p in pids.items() if alive(p)}
        self.assertTrue(ok, f"still alive {timeout}s after the gateway's SIGKILL: {left}")

    async def test_terminal_tree_dies_with_a_sigkilled_gateway(self):
        # docs/DESIGN.md rule 7: a terminal's supervisor holds the lifeline; on its EOF it kills
        # the whole tree at once. No restart, no successor.
        c = await self.gw.connect()
        sid = (await c.result("session.create", close_on_disconnect=False))["session_id"]
        _, pids = await self.stubborn_terminal(c, sid)
        workers = (await c.result("gateway.workers"))["workers"]
        self.assertEqual([w["kind"] for w in workers], ["pty"])
        self.gw.proc.kill()
        self.gw.proc.wait()
        self.assert_gone(pids, 5)

    async def test_closing_the_terminal_kills_what_its_shell_left(self):
        c = await self.gw.connect()
        sid = (await c.result("session.create"))["session_id"]
        pty, pids = await self.stubborn_terminal(c, sid)
        baseline = self.gw.fd_count()
        self.assertEqual((await c.result("pty.close", pty_id=pty))["closed"], True)
        self.assert_gone(pids, 5)
        self.assertTrue(wait_until(lambda: not self.gw.descendants(), 5), self.gw.descendants())
        self.assertTrue(wait_until(lambda: self.gw.fd_count() < baseline, 5))

    async def test_the_shell_exiting_takes_its_background_jobs(self):
        c = await self.gw.connect()
        sid = (await c.result("session.create"))["session_id"]
        pty, pids = await self.stubborn_terminal(c, sid)
        await c.result("pty.write", pty_id=pty, data=b64("exit 7\n"))
        self.assertTrue(await until(
            lambda: any(e.get("type") == "pty.exit" for e in c.events), 10), c.events[-3:])
        status = [e["payload"]["status"] for e in c.events if e.get("type") == "pty.exit"][0]
        self.assertEqual(status, 7)
        self.assert_gone(pids, 5)

    async def test_a_process_that_left_its_cgroup_still_dies(self):
        c = await self.gw.connect()
        containment = (await c.result("gateway.stats"))["containment"]
        if not str(containment.get("escapees", "")).startswith("cgroup"):
            self.skipTest(f"no writable cgroup v2 here ({containment}): nothing to leave")
        sid = (await c.result("session.create", close_on_disconnect=False))["session_id"]
        pty = (await c.result("pty.open", session_id=sid, cols=80, rows=24))["pty_id"]
        self.assertTrue(await until(lambda: self.output(c, pty), 10))
        # Move a sleeper into the gateway's parent cgroup (as root may), then SIGKILL the
        # gateway: only the subreaper's descendant walk can find it.
        # Our per-child cgroups live under "cgroup v2 (<base>)"; leaving = moving to the
        # cgroup that holds the gateway itself.
        base = containment["escapees"].split("(", 1)[1].rstrip(")")
        procs = os.path.join(os.path.dirname(base), "cgroup.procs")
        if not os.access(procs, os.W_OK):
            self.skipTest(f"{procs} is not writable: a process cannot leave its cgroup here")
        await c.result("pty.write", pty_id=pty,
                       data=b64(f"sh -c 'echo $$ > {procs}; exec sleep 1106' & echo moved-$((1+1))\n"))
        self.assertTrue(await until(lambda: "moved-2" in self.output(c, pty), 10))
        self.assertTrue(wait_until(lambda: "1106" in sleepers(["1106"]), 5))
        pids = sleepers(["1106"])
        with open(f"/proc/{pids['1106']}/cgroup") as f:
            cg = f.read()
        self.assertNotIn("lifeline-", cg, "the sleeper did not leave its cgroup")
        self.gw.proc.kill()
        self.gw.proc.wait()
        self.assert_gone(pids, 5)


def raw_request(port, head, read=True, rcvbuf=None, timeout=5):
    """Sends raw HTTP head bytes; returns (status code, whole response text)."""
    s = socket.socket()
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(timeout)
    s.connect(("127.0.0.1", port))
    s.sendall(head.encode() if isinstance(head, str) else head)
    if not read:
        return s
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
            if b"\r\n\r\n" in data and (b"Content-Length: 0" in data or data.endswith(b"\n")):
                pass
    except (socket.timeout, ConnectionResetError):
        pass
    s.close()
    text = data.decode(errors="replace")
    status = int(text.split(" ")[1]) if text.startswith("HTTP/") else 0
    return status, text


def upgrade_head(port, token, extra=""):
    return (f"GET /ws?token={token} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            f"Sec-WebSocket-Version: 13\r\n{extra}\r\n")


class AdmissionTest(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        self.gw = Gateway("--allowed-host", "gw.example").start()

    async def asyncTearDown(self):
        self.gw.stop()

    def test_repeated_origin_or_host_is_refused(self):
        port, token = self.gw.port, self.gw.token
        ok = f"Origin: http://127.0.0.1:{port}\r\n"
        self.assertEqual(raw_request(port, upgrade_head(port, token, ok))[0], 101)
        evil = ok + "Origin: http://evil.example\r\n"
        self.assertEqual(raw_request(port, upgrade_head(port, token, evil))[0], 400)
        two_hosts = upgrade_head(port, token).replace("\r\n\r\n", "\r\nHost: evil.example\r\n\r\n")
        self.assertEqual(raw_request(port, two_hosts)[0], 400)

    def test_host_must_name_this_gateway_for_every_path(self):
        port, token = self.gw.port, self.gw.token
        for path in ("/healthz", "/metrics"):
            good = raw_request(port, f"GET {path} HTTP/1.1\r\nHost: localhost:{port}\r\n\r\n")
            self.assertEqual(good[0], 200, good[1][:200])
            rebound = raw_request(port, f"GET {path} HTTP/1.1\r\nHost: evil.example:{port}\r\n\r\n")
            self.assertEqual(rebound[0], 400, rebound[1][:200])
            allowed = raw_request(port, f"GET {path} HTTP/1.1\r\nHost: gw.example:{port}\r\n\r\n")
            self.assertEqual(allowed[0], 200, allowed[1][:200])
        head = upgrade_head(port, token).replace(f"Host: 127.0.0.1:{port}", f"Host: evil.example:{port}")
        self.assertEqual(raw_request(port, head)[0], 400)

    def test_methods_other_than_get_are_refused_and_head_gets_the_headers(self):
        port = self.gw.port
        host = f"Host: 127.0.0.1:{port}\r\n"
        for method, path in (("POST", "/"), ("PUT", "/healthz"), ("DELETE", "/metrics"), ("POST", "/ws")):
            status, text = raw_request(port, f"{method} {path} HTTP/1.1\r\n{host}Content-Length: 0\r\n\r\n")
            self.assertEqual(status, 405, text[:200])
            self.assertIn("Allow: GET", text)
        self.assertEqual(raw_request(port, f"POST /nope HTTP/1.1\r\n{host}Content-Length: 0\r\n\r\n")[0], 404)
        status, text = raw_request(port, f"HEAD /healthz HTTP/1.1\r\n{host}\r\n")
        self.assertEqual(status, 200, text[:200])
        self.assertIn("Content-Length: 3", text)
        self.assertTrue(text.endswith("\r\n\r\n"), repr(text[-40:]))  # headers only

    def test_oversized_headers_get_431_and_no_beast_banner(self):
        port = self.gw.port
        big = "X-Filler: " + "a" * 20000 + "\r\n"
        status, text = raw_request(port, f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{big}\r\n")
        self.assertEqual(status, 431, text[:200])
        status, text = raw_request(port, upgrade_head(port, self.gw.token))
        self.assertEqual(status, 101)
        self.assertNotIn("Beast", text)
        self.assertIn("Server: lifeline", text)

    def test_cookie_is_a_credential_and_origin_still_guards_it(self):
        port, token = self.gw.port, self.gw.token
        head = upgrade_head(port, "").replace("?token=", "") + ""
        cookie = f"Cookie: theme=dark; lifeline_{port}={token}\r\n"  # the per-port login cookie
        self.assertEqual(raw_request(port, upgrade_head(port, "", cookie).replace("?token=", ""))[0], 101)
        self.assertEqual(raw_request(port, head)[0], 401)
        wrong = f"Cookie: lifeline_{port}=nope\r\n"
        self.assertEqual(raw_request(port, upgrade_head(port, "", wrong).replace("?token=", ""))[0], 401)
        # Another port of the same host is the same site: the cookie goes along, the
        # Origin check refuses it (cross-site WebSocket hijacking).
        hijack = cookie + f"Origin: http://127.0.0.1:{port + 1}\r\n"
        self.assertEqual(raw_request(port, upgrade_head(port, "", hijack).replace("?token=", ""))[0], 403)

    async def test_takeover_is_announced_to_the_former_holder(self):
        a = await self.gw.connect()
        b = await self.gw.connect()
        sid = (await a.result("session.create", close_on_disconnect=False))["session_id"]
        r = await b.result("session.resume", session_id=sid)
        self.assertTrue(r["resumed"])
        ok = await until(lambda: any(e.get("type") == "session.taken_over" for e in a.events), 5)
        self.assertTrue(ok, a.events)
        event = [e for e in a.events if e.get("type") == "session.taken_over"][0]
        self.assertEqual(event["session_id"], sid)
        await a.close()
        await asyncio.sleep(0.2)
        listed = (await b.result("session.active_list"))["sessions"]
        self.assertEqual([s["session_id"] for s in listed], [sid], "the former holder's leaving ended it")
        await b.close()

    async def test_title_cap_and_history_paging_end_to_end(self):
        c = await self.gw.connect()
        bad = await c.call("session.create", title="x" * 257)
        self.assertEqual(bad["error"]["code"], -32602)
        sid = (await c.result("session.create", title="t" * 256))["session_id"]
        for i in range(5):
            await c.result("slash.exec", session_id=sid, command=f"/echo {i}")
        page = await c.result("session.history", session_id=sid, limit=2)
        self.assertEqual([e["seq"] for e in page["entries"]], [4, 5])
        self.assertTrue(page["more"])
        older = await c.result("session.history", session_id=sid, limit=10, before_seq=4)
        self.assertEqual([e["seq"] for e in older["entries"]], [1, 2, 3])
        self.assertFalse(older["more"])
        await c.close()


class SlowPeerTest(unittest.IsolatedAsyncioTestCase):
    """A client that stops reading: never buffered without limit, its terminals paused,
    and cut loose within seconds - not left running until some far deadline."""

    def stopped_client(self, gw):
        """A raw WebSocket client with a tiny receive buffer: it answers the upgrade and
        reads what it is told to, then never again (a SIGSTOPped tab)."""
        s = raw_request(gw.port, upgrade_head(gw.port, gw.token), read=False, rcvbuf=4096)
        s.settimeout(5)
        self.assertIn(b"101", s.recv(4096).split(b"\r\n")[0])
        return s

    @staticmethod
    def frame(text):
        data = text.encode()
        mask = b"\x01\x02\x03\x04"
        body = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        if len(data) < 126:
            head = bytes([0x81, 0x80 | len(data)])
        else:
            head = bytes([0x81, 0x80 | 126]) + len(data).to_bytes(2, "big")
        return head + mask + body

    def call(self, s, rid, method, params, key):
        s.sendall(self.frame(json.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})))
        got = b""
        deadline = time.monotonic() + 5
        while f'"{key}":"'.encode() not in got and time.monotonic() < deadline:
            got += s.recv(65536)
        return got.decode(errors="replace").split(f'"{key}":"')[1].split('"')[0]

    def test_a_stopped_reader_pauses_its_flooding_terminal_and_is_dropped(self):
        gw = Gateway("--ping-interval", "2", "--ping-timeout", "2",
                     "--max-unsent-bytes", "262144").start()
        try:
            s = self.stopped_client(gw)
            sid = self.call(s, 1, "session.create", {}, "session_id")
            pty = self.call(s, 2, "pty.open", {"session_id": sid, "cols": 80, "rows": 24}, "pty_id")
            s.sendall(self.frame(json.dumps({"jsonrpc": "2.0", "id": 3, "method": "pty.write", "params": {
                "pty_id": pty, "data": base64.b64encode(b"yes lifeline-flood\n").decode()}})))

            def yes_pids():
                return [p.pid for p in psutil.process_iter(["cmdline"])
                        if (p.info["cmdline"] or [])[:2] == ["yes", "lifeline-flood"]]
            self.assertTrue(wait_until(lambda: yes_pids(), 5), "yes never started")
            yes = psutil.Process(yes_pids()[0])
            started = time.monotonic()
            # Not reading from here on. Backed up, the terminal is paused: yes blocks on
            # its full PTY instead of filling our memory.
            def paused():
                try:
                    before = sum(yes.cpu_times()[:2])
                    time.sleep(0.5)
                    return sum(yes.cpu_times()[:2]) - before < 0.02
                except psutil.NoSuchProcess:
                    return True
            self.assertTrue(wait_until(paused, 5), "yes kept running: its terminal was not paused")
            self.assertTrue(any("backed up" in line for line in gw.log), gw.log[-10:])
            self.assertLess(psutil.Process(gw.pid).memory_info().rss, 200 << 20)
            # No pong comes back: dropped within ping interval + timeout, and the
            # close_on_disconnect session takes yes with it.
            gone = wait_until(lambda: not yes_pids() and not gw.descendants(), 10)
            elapsed = time.monotonic() - started
            self.assertTrue(gone, f"yes still there after {elapsed:.1f}s\n" + "\n".join(gw.log[-20:]))
            s.close()
        finally:
            gw.stop()

    def test_a_reader_past_its_byte_bound_is_closed_and_aborted_within_seconds(self):
        gw = Gateway("--ping-interval", "60", "--ping-timeout", "60",
                     "--max-unsent-bytes", "262144").start()
        try:
            s = self.stopped_client(gw)
            sid = self.call(s, 1, "session.create", {"title": "t" * 256}, "session_id")
            for i in range(40):
                s.sendall(self.frame(json.dumps({"jsonrpc": "2.0", "id": 10 + i, "method": "session.create",
                                                 "params": {"title": "t" * 256}})))
            # Replies the client never reads: past the bound the connection is closed
            # (1008); the close cannot complete, so it is aborted 2 s later and handled as
            # a disconnect - long before the 60 s pong deadline.
            started = time.monotonic()
            request = json.dumps({"jsonrpc": "2.0", "id": 99, "method": "session.active_list"})
            try:
                for _ in range(3000):
                    s.sendall(self.frame(request))
            except (BrokenPipeError, ConnectionResetError, socket.timeout):
                pass
            ended = wait_until(lambda: any("ended" in line or "aborting" in line for line in gw.log), 10)
            self.assertTrue(ended, "\n".join(gw.log[-20:]))
            wait_until(lambda: any(f"session {sid} closed" in line for line in gw.log), 5)
            print("\n".join(line for line in gw.log if "connection" in line), file=sys.stderr)
            self.assertTrue(any(f"session {sid} closed: ws_disconnect" in line for line in gw.log),
                            "\n".join(gw.log[-20:]))
            self.assertLess(time.monotonic() - started, 15)
            self.assertTrue(any("not reading" in line for line in gw.log))
            self.assertLess(psutil.Process(gw.pid).memory_info().rss, 200 << 20)
            s.close()
        finally:
            gw.stop()


class ExhaustionTest(unittest.TestCase):
    """fd exhaustion must not spin or flood the log (issue 12: 239 MB in 30 s)."""

    def test_a_connection_flood_under_a_low_fd_limit_gets_503_and_no_spin(self):
        import resource

        def low_limit():
            resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))
        gw = Gateway(preexec_fn=low_limit).start()
        try:
            self.assertTrue(any("--max-connections lowered" in line for line in gw.log), gw.log)
            cpu0 = sum(psutil.Process(gw.pid).cpu_times()[:2])
            socks = []
            for _ in range(300):
                s = socket.socket()
                s.connect(("127.0.0.1", gw.port))
                socks.append(s)
            time.sleep(3)
            cpu = sum(psutil.Process(gw.pid).cpu_times()[:2]) - cpu0
            self.assertLess(cpu, 2.0, f"the gateway spent {cpu:.1f}s of CPU in 3 s: a spin")
            self.assertLess(len(gw.log), 400, "the log is flooding")
            refused = 0
            for s in socks:
                s.settimeout(0.2)
                try:
                    if s.recv(64).startswith(b"HTTP/1.1 503"):
                        refused += 1
                except (socket.timeout, ConnectionResetError):
                    pass
            self.assertGreater(refused, 0, "no connection beyond the cap got 503")
            for s in socks:
                s.close()
            # Once the flood is gone, a legitimate client is served at once.
            ok = wait_until(lambda: raw_request(gw.port, f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{gw.port}\r\n\r\n")[0] == 200, 5)
            self.assertTrue(ok)
        finally:
            gw.stop()

    def test_an_idle_connection_that_never_finishes_its_handshake_is_closed(self):
        gw = Gateway().start()
        try:
            s = socket.socket()
            s.connect(("127.0.0.1", gw.port))
            s.sendall(b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and never the rest
            s.settimeout(15)
            started = time.monotonic()
            try:
                data = s.recv(64)
            except ConnectionResetError:
                data = b""
            self.assertEqual(data, b"")
            self.assertLess(time.monotonic() - started, 13, "the handshake limit is 10 s")
        finally:
            gw.stop()

    def test_version_flag(self):
        import subprocess
        from gateway_harness import GATEWAY
        out = subprocess.run([GATEWAY, "--version"], capture_output=True, text=True, timeout=10)
        self.assertEqual(out.returncode, 0)
        self.assertRegex(out.stdout, r"^lifeline-gateway \d+\.\d+\.\d+\n$")


class ChildUserTest(unittest.IsolatedAsyncioTestCase):
    async def test_children_run_as_the_child_user_and_still_die_with_the_gateway(self):
        import pwd
        if os.geteuid() != 0:
            self.skipTest("--child-user needs the gateway to run as root")
        nobody = pwd.getpwnam("nobody")
        gw = Gateway("--child-user", "nobody").start()
        try:
            c = await gw.connect()
            sid = (await c.result("session.create", close_on_disconnect=False))["session_id"]
            out = await c.result("slash.exec", session_id=sid, command="/pid")
            self.assertTrue(out["ok"], out)
            worker = int(dict(kv.split("=") for kv in out["output"].split())["pid"])
            self.assertEqual(psutil.Process(worker).uids().real, nobody.pw_uid)
            pty = (await c.result("pty.open", session_id=sid, cols=80, rows=24))["pty_id"]
            text = lambda: "".join(base64.b64decode(e["payload"]["data"]).decode(errors="replace")
                                   for e in c.events if e.get("type") == "pty.output")
            self.assertTrue(await until(lambda: "$" in text(), 10), "no prompt")
            await c.result("pty.write", pty_id=pty, data=b64("echo uid-$(id -u); sleep 1107 &\n"))
            self.assertTrue(await until(lambda: f"uid-{nobody.pw_uid}" in text(), 10), text())
            self.assertTrue(wait_until(lambda: "1107" in sleepers(["1107"]), 5))
            tree = gw.descendants()
            gw.proc.kill()
            gw.proc.wait()
            self.assertTrue(wait_until(lambda: not any(alive(p) for p in tree), 5),
                            [p for p in tree if alive(p)])
        finally:
            gw.stop()


class OperatorTest(unittest.IsolatedAsyncioTestCase):
    async def test_sighup_rereads_the_env_file_and_applies_live_limits(self):
        state = tempfile.mkdtemp(prefix="lifeline-env-")
        env_file = os.path.join(state, "lifeline.env")
        with open(env_file, "w") as f:
            f.write("LIFELINE_MAX_SESSIONS=2\n")
        gw = Gateway("--env-file", env_file).start()
        try:
            c = await gw.connect()
            for _ in range(2):
                await c.result("session.create")
            self.assertEqual((await c.call("session.create"))["error"]["code"], 4290)
            with open(env_file, "w") as f:
                f.write("# raised\nLIFELINE_MAX_SESSIONS=5\nLIFELINE_MAX_CONNECTIONS=7\n")
            gw.proc.send_signal(signal.SIGHUP)
            self.assertTrue(await until(lambda: any("SIGHUP: applied" in l for l in gw.log), 5), gw.log[-5:])
            line = [l for l in gw.log if "SIGHUP: applied" in l][0]
            self.assertIn("--max-sessions", line)
            self.assertIn("needing a restart: --max-connections", line)
            self.assertIn("session_id", await c.result("session.create"))
            await c.close()
        finally:
            self.assertEqual(gw.stop(), 0, "a clean SIGTERM shutdown exits 0")
            shutil.rmtree(state, ignore_errors=True)


class RetentionTest(unittest.IsolatedAsyncioTestCase):
    async def test_old_ended_sessions_are_pruned_and_open_ones_are_closed_at_start(self):
        import sqlite3
        gw = Gateway().start()
        c = await gw.connect()
        old = (await c.result("session.create"))["session_id"]
        await c.result("slash.exec", session_id=old, command="/echo old")
        await c.result("session.close", session_id=old)
        recent = (await c.result("session.create"))["session_id"]
        await c.result("slash.exec", session_id=recent, command="/echo recent")
        await c.result("session.close", session_id=recent)
        left_open = (await c.result("session.create", close_on_disconnect=False))["session_id"]
        await asyncio.sleep(0.2)
        gw.proc.kill()  # left_open's end is never recorded by this gateway
        gw.proc.wait()
        db = sqlite3.connect(os.path.join(gw.state_dir, "lifeline.db"))
        forty_days_ago = int(time.time() * 1000) - 40 * 24 * 3600 * 1000
        db.execute("UPDATE sessions SET ended_at=? WHERE session_id=?", (forty_days_ago, old))
        db.commit()
        db.close()
        again = Gateway("--retain-days", "30", state_dir=gw.state_dir).start()
        try:
            c = await again.connect()
            gone = await c.call("session.resume", session_id=old)
            self.assertEqual(gone["error"]["code"], 4007, gone)
            hist = await c.result("session.history", session_id=recent)
            self.assertEqual([e["output"] for e in hist["entries"]], ["recent"])
            self.assertTrue(any("pruned 1 sessions" in line for line in again.log), again.log)
            self.assertTrue(any("left open" in line for line in again.log), again.log)
            db = sqlite3.connect(os.path.join(gw.state_dir, "lifeline.db"))
            row = db.execute("SELECT end_reason FROM sessions WHERE session_id=?", (left_open,)).fetchone()
            orphans = db.execute("SELECT COUNT(*) FROM transcript WHERE session_key NOT IN "
                                 "(SELECT session_key FROM sessions)").fetchone()[0]
            db.close()
            self.assertEqual(row, ("shutdown",))
            self.assertEqual(orphans, 0)
            await c.close()
        finally:
            again.stop()


class ForkStormTest(ShowsGatewayLog, unittest.IsolatedAsyncioTestCase):
    async def test_a_fork_storm_in_one_session_stops_at_its_pids_max(self):
        self.gw = Gateway("--session-pids-max", "40").start()
        c = await self.gw.connect()
        containment = (await c.result("gateway.stats"))["containment"]
        if not containment.get("pids_max"):
            self.gw.stop()
            self.skipTest("no pids controller for this gateway's cgroups, so no per-session "
                          f"pids.max: {containment.get('limits_not_applied') or containment['escapees']}")
        try:
            sid = (await c.result("session.create"))["session_id"]
            pty = (await c.result("pty.open", session_id=sid, cols=80, rows=24))["pty_id"]
            await until(lambda: any(e.get("type") == "pty.output" for e in c.events), 10)
            await c.result("pty.write", pty_id=pty,
                           data=b64("for i in $(seq 200); do sleep 1108 & done 2>/dev/null; echo storm-done\n"))
            await until(lambda: "storm-done" in "".join(
                base64.b64decode(e["payload"]["data"]).decode(errors="replace")
                for e in c.events if e.get("type") == "pty.output"), 20)
            count = len([p for p in psutil.process_iter(["cmdline"])
                         if (p.info["cmdline"] or [])[-1:] == ["1108"]])
            self.assertLessEqual(count, 40, "the session's processes passed its pids.max")
            await c.result("session.close", session_id=sid)
            self.assertTrue(wait_until(lambda: not self.gw.descendants(), 10))
        finally:
            self.gw.stop()


class HardeningWithoutCgroupsTest(HardeningTest):
    env = {"LIFELINE_CGROUPS": "off"}

    async def test_a_process_that_left_its_cgroup_still_dies(self):
        self.skipTest("containment is off: there is no cgroup to leave")


if __name__ == "__main__":
    unittest.main(verbosity=2)
