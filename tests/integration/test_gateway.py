"""Integration tests: the real gateway, real workers, real processes, real SQLite.

Leaks are measured: the process tree under the gateway (psutil), zombies, and the
gateway's /proc/<pid>/fd, before and after. Liveness bounds are generous (seconds);
speed lives in benchmarks, not here.
"""
import asyncio
import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import gateway_harness  # noqa: E402
from gateway_harness import GATEWAY, Gateway, ShowsGatewayLog, alive, b64, http_get, until, wait_until  # noqa: E402

import psutil  # noqa: E402
import websockets  # noqa: E402


def pids_from(text):
    return dict(kv.split("=") for kv in text.split())


class GatewayTest(ShowsGatewayLog, unittest.IsolatedAsyncioTestCase):
    gateway_args = ("--orphan-grace", "1", "--ping-interval", "1", "--ping-timeout", "1")

    async def asyncSetUp(self):
        self.gw = Gateway(*self.gateway_args).start()

    async def asyncTearDown(self):
        self.gw.stop()

    async def worker_tree(self, client, sid, spawn="/spawn 2", escape="/spawn 2 --setsid"):
        """Starts the session's worker with grandchildren, some escaping the group."""
        out = await client.result("slash.exec", session_id=sid, command="/pid")
        info = pids_from(out["output"])
        await client.result("slash.exec", session_id=sid, command=spawn)
        await client.result("slash.exec", session_id=sid, command=escape)
        tree = self.gw.descendants()
        self.assertIn(int(info["pid"]), tree)
        self.assertGreaterEqual(len(tree), 5, tree)
        return int(info["pid"]), tree

    def assert_all_gone(self, pids, timeout=5.0):
        ok = wait_until(lambda: not any(alive(p) for p in pids), timeout)
        left = [p for p in pids if alive(p)]
        self.assertTrue(ok, f"still alive (or zombie) after {timeout}s: {left}")

    async def test_create_exec_close_reaps_the_worker(self):
        c = await self.gw.connect()
        sid = (await c.result("session.create"))["session_id"]
        out = await c.result("slash.exec", session_id=sid, command="/echo hello lifeline")
        self.assertEqual(out["output"], "hello lifeline")
        self.assertTrue(out["ok"])
        pid, tree = await self.worker_tree(c, sid)
        workers = (await c.result("gateway.workers"))["workers"]
        self.assertEqual([w["pid"] for w in workers], [pid])
        self.assertEqual(workers[0]["pgid"], pid)
        self.assertEqual((await c.result("session.close", session_id=sid))["closed"], True)
        self.assert_all_gone(tree)
        self.assertEqual(self.gw.zombies(), [])
        await c.close()

    async def test_a_crashing_worker_leaves_no_escapee_behind(self):
        c = await self.gw.connect()
        sid = (await c.result("session.create"))["session_id"]
        _, tree = await self.worker_tree(c, sid)
        crashed = await c.call("slash.exec", session_id=sid, command="/crash")
        self.assertEqual(crashed["error"]["code"], 5031)
        self.assert_all_gone(tree)
        exits = [e for e in c.events if e.get("type") == "worker.exit"]
        self.assertEqual(exits[0]["payload"]["status"], 128 + signal.SIGSEGV)
        stats = await c.result("gateway.stats")
        self.assertIn(stats["containment"]["escapees"].split(" ")[0], ("cgroup", "process-group"))
        self.assertEqual(stats["containment"]["terminals"], "supervised")
        # The session lives on: the next command starts a fresh worker.
        self.assertEqual((await c.result("slash.exec", session_id=sid, command="/echo again"))["output"], "again")
        await c.close()

    async def test_worker_holds_only_its_stdio_and_lifeline(self):
        c = await self.gw.connect()
        sid = (await c.result("session.create"))["session_id"]
        fds = (await c.result("slash.exec", session_id=sid, command="/fds"))["output"]
        self.assertEqual(fds, "0 1 2 3")
        await c.close()

    async def test_abrupt_disconnect_reaps_the_whole_tree_escapees_included(self):
        c = await self.gw.connect()
        sid = (await c.result("session.create"))["session_id"]
        _, tree = await self.worker_tree(c, sid)
        c.abort()
        self.assert_all_gone(tree)
        self.assertEqual(self.gw.descendants(), set())

    async def test_half_open_peer_is_dropped_by_the_ping_deadline(self):
        c = await self.gw.connect()
        sid = (await c.result("session.create"))["session_id"]
        _, tree = await self.worker_tree(c, sid)
        # Stop reading: pings go unanswered, as with a silent peer behind a dead proxy.
        c.ws.transport.pause_reading()
        self.assert_all_gone(tree, timeout=8)

    async def test_detach_resume_within_grace_then_reap_after_it(self):
        c = await self.gw.connect()
        sid = (await c.result("session.create", close_on_disconnect=False))["session_id"]
        _, tree = await self.worker_tree(c, sid)
        c.abort()
        await asyncio.sleep(0.3)
        d = await self.gw.connect()
        r = await d.result("session.resume", session_id=sid)
        self.assertEqual(r["session_id"], sid)
        self.assertTrue(all(alive(p) for p in tree))
        await asyncio.sleep(1.5)  # past the grace: resumed, so nothing is reaped
        self.assertTrue(all(alive(p) for p in tree))
        d.abort()
        self.assert_all_gone(tree, timeout=6)
        e = await self.gw.connect()
        sessions = (await e.result("session.active_list"))["sessions"]
        self.assertEqual(sessions, [])
        await e.close()

    async def test_gateway_sigkill_takes_every_worker_and_grandchild_and_the_port_rebinds(self):
        c = await self.gw.connect()
        trees = set()
        for _ in range(3):
            sid = (await c.result("session.create", close_on_disconnect=False))["session_id"]
            _, tree = await self.worker_tree(c, sid)
            trees |= tree
        port = self.gw.port
        self.gw.proc.kill()
        self.gw.proc.wait()
        self.assert_all_gone(trees)
        again = Gateway(*self.gateway_args, state_dir=self.gw.state_dir, port=port).start()
        try:
            self.assertEqual(again.port, port)
        finally:
            again.stop()

    async def test_a_restarted_gateway_kills_what_its_sigkilled_predecessor_left(self):
        c = await self.gw.connect()
        if not (await c.result("gateway.stats"))["containment"]["escapees"].startswith("cgroup"):
            self.skipTest("no writable cgroup v2 here: a double-forked escapee of a SIGKILLed gateway is out of reach")
        sid = (await c.result("session.create"))["session_id"]
        pty = (await c.result("pty.open", session_id=sid, cols=80, rows=24))["pty_id"]
        # Escape the group and the session, and get reparented: the worst kind of leak.
        await c.result("pty.write", pty_id=pty, data=b64("(setsid sleep 1003 &) ; echo escaped\n"))

        def escapee():
            for p in psutil.process_iter(["cmdline"]):
                if p.info["cmdline"] == ["sleep", "1003"]:
                    return p.pid
            return None
        self.assertTrue(wait_until(lambda: escapee() is not None, 5))
        pid = escapee()
        # The terminal's supervisor would kill it when the gateway dies (rule 7): take
        # both down at once, the gateway stopped first so that it cannot react, to leave
        # the escapee to the successor's cgroup sweep alone.
        supervisor = [w["pid"] for w in (await c.result("gateway.workers"))["workers"]][0]
        os.kill(self.gw.pid, signal.SIGSTOP)
        os.kill(supervisor, signal.SIGKILL)
        self.gw.proc.kill()
        self.gw.proc.wait()
        await asyncio.sleep(0.5)
        self.assertTrue(alive(pid), "nothing but a successor can reach it now")
        again = Gateway(*self.gateway_args, state_dir=self.gw.state_dir).start()
        try:
            self.assert_all_gone([pid])
        finally:
            again.stop()

    async def test_without_cgroups_a_restarted_gateway_kills_a_crashed_workers_grandchildren(self):
        # Found by the simulator (sim/regressions/worker-crash-then-gateway-sigkill.json):
        # a worker dies without running its containment and the gateway is SIGKILLed before
        # it sweeps the grandchildren it just inherited. Without cgroups, only the child
        # ledger in the store can lead a successor to them.
        self.gw.stop()
        self.gw = Gateway(*self.gateway_args, env={"LIFELINE_CGROUPS": "off"}).start()
        c = await self.gw.connect()
        self.assertIn("LIFELINE_CGROUPS=off", (await c.result("gateway.stats"))["containment"]["escapees"])
        sid = (await c.result("session.create", close_on_disconnect=False))["session_id"]
        pid, tree = await self.worker_tree(c, sid, escape="/spawn 2")
        grandchildren = tree - {pid}
        os.kill(self.gw.pid, signal.SIGSTOP)  # so that it cannot sweep what it inherits
        os.kill(pid, signal.SIGKILL)  # the worker dies without its containment
        self.gw.proc.kill()
        self.gw.proc.wait()
        await asyncio.sleep(0.3)
        self.assertTrue(all(alive(p) for p in grandchildren), "nothing but a successor can reach them now")
        again = Gateway(*self.gateway_args, state_dir=self.gw.state_dir, env={"LIFELINE_CGROUPS": "off"}).start()
        try:
            self.assert_all_gone(grandchildren)
            self.assertTrue(any("left by a previous gateway" in line for line in again.log), again.log)
        finally:
            again.stop()

    async def test_history_survives_sigkill_and_restart_and_resume_continues_it(self):
        c = await self.gw.connect()
        created = await c.result("session.create", title="notes")
        sid, key = created["session_id"], created["session_key"]
        for i in range(3):
            await c.result("slash.exec", session_id=sid, command=f"/echo line {i}")
        self.gw.proc.kill()
        self.gw.proc.wait()
        again = Gateway(*self.gateway_args, state_dir=self.gw.state_dir).start()
        try:
            d = await again.connect()
            hist = (await d.result("session.history", session_key=key))["entries"]
            self.assertEqual([e["output"] for e in hist], ["line 0", "line 1", "line 2"])
            r = await d.result("session.resume", session_id=sid)
            self.assertTrue(r["from_store"])
            self.assertEqual(r["session_key"], key)
            await d.result("slash.exec", session_id=r["session_id"], command="/echo line 3")
            hist = (await d.result("session.history", session_id=sid))["entries"]
            self.assertEqual([e["seq"] for e in hist], [1, 2, 3, 4])
            await d.close()
        finally:
            again.stop()

    async def test_fd_count_returns_to_baseline_after_hundreds_of_lifecycles(self):
        c = await self.gw.connect()
        await c.result("gateway.stats")
        baseline = self.gw.fd_count()
        for i in range(150):
            sid = (await c.result("session.create"))["session_id"]
            await c.result("slash.exec", session_id=sid, command="/echo x")
            if i % 3 == 0:
                await c.result("session.reset", session_id=sid)
            if i % 5 == 0:
                pty = (await c.result("pty.open", session_id=sid, cols=80, rows=24))["pty_id"]
                await c.result("pty.close", pty_id=pty)
            await c.result("session.close", session_id=sid)
        self.assertTrue(wait_until(lambda: self.gw.descendants() == set(), 5), self.gw.descendants())
        self.assertTrue(wait_until(lambda: self.gw.fd_count() == baseline, 5),
                        f"fds {self.gw.fd_count()} != baseline {baseline}")
        stats = await c.result("gateway.stats")
        self.assertEqual(stats["workers_live"], 0)
        self.assertEqual(stats["reaped"]["client_close"], 150)
        await c.close()

    async def test_hostile_frames_get_errors_and_the_gateway_serves_on(self):
        c = await self.gw.connect()
        cases = [("not json", -32700), ("[1,2]", -32600), ("[" * 100000, -32700),
                 (json.dumps({"jsonrpc": "2.0", "id": 9, "method": "nope"}), -32601),
                 (json.dumps({"jsonrpc": "2.0", "id": 9, "method": "slash.exec", "params": {"session_id": 1}}), -32602),
                 ("x" * (1048576 + 10), 4130)]
        for text, code in cases:
            await c.send_raw(text)
        await asyncio.sleep(0.5)
        codes = [e["payload"]["error"]["code"] for e in c.events if e.get("type") == "orphan-reply"]
        self.assertEqual(codes, [code for _, code in cases])
        sid = (await c.result("session.create"))["session_id"]
        self.assertEqual((await c.result("slash.exec", session_id=sid, command="/echo still here"))["output"], "still here")
        await c.close()

    async def test_pty_round_trip_and_close_reaps_its_group_and_the_master(self):
        c = await self.gw.connect()
        sid = (await c.result("session.create"))["session_id"]
        baseline = self.gw.fd_count()
        pty = (await c.result("pty.open", session_id=sid, cols=80, rows=24))["pty_id"]
        # Type after the prompt, as a person does: a shell that is still setting up its
        # terminal may flush input that arrived earlier.
        self.assertTrue(await until(lambda: any(e.get("type") == "pty.output" for e in c.events), 10))
        await c.result("pty.write", pty_id=pty, data=b64("sleep 300 & sleep 301 & echo ready-$((6*7))\n"))
        ok = await until(lambda: "ready-42" in "".join(
            base64.b64decode(e["payload"]["data"]).decode(errors="replace")
            for e in c.events if e.get("type") == "pty.output"), 10)
        self.assertTrue(ok, c.events[-5:])
        tree = self.gw.descendants()
        self.assertGreaterEqual(len(tree), 3)
        self.assertEqual((await c.result("pty.close", pty_id=pty))["closed"], True)
        self.assert_all_gone(tree)
        self.assertTrue(wait_until(lambda: self.gw.fd_count() == baseline, 5))
        await c.close()

    async def test_admission_refuses_a_missing_token_and_a_foreign_origin(self):
        with self.assertRaises(websockets.InvalidStatusCode) as e:
            await websockets.connect(self.gw.url)
        self.assertEqual(e.exception.status_code, 401)
        with self.assertRaises(websockets.InvalidStatusCode) as e:
            await websockets.connect(f"{self.gw.url}?token={self.gw.token}", origin="http://evil.example")
        self.assertEqual(e.exception.status_code, 403)
        ok = await websockets.connect(self.gw.url, extra_headers={"Authorization": f"Bearer {self.gw.token}"},
                                      origin=f"http://127.0.0.1:{self.gw.port}")
        await ok.close()

    async def test_healthz_and_metrics(self):
        def get(path):
            return http_get(self.gw.port, path)
        self.assertIn("200 OK", get("/healthz"))
        metrics = get("/metrics")
        self.assertIn('lifeline_sessions{status="idle"}', metrics)
        self.assertIn("lifeline_open_fds", metrics)
        self.assertIn("lifeline_child_termination_seconds_count 0", metrics)
        # One worker ended: its termination lands in the histogram.
        c = await self.gw.connect()
        sid = (await c.result("session.create"))["session_id"]
        await c.result("slash.exec", session_id=sid, command="/pid")
        await c.call("slash.exec", session_id=sid, command="   ")  # 4004
        await c.result("session.close", session_id=sid)
        self.assertTrue(wait_until(
            lambda: "lifeline_child_termination_seconds_count 1" in get("/metrics"), 5))
        self.assertIn('lifeline_child_termination_seconds_bucket{le="+Inf"} 1', get("/metrics"))
        # A refused upgrade is counted by reason.
        with socket.create_connection(("127.0.0.1", self.gw.port)) as s:
            s.sendall(f"GET /ws?token=wrong HTTP/1.1\r\nHost: 127.0.0.1:{self.gw.port}\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                      "Sec-WebSocket-Version: 13\r\n\r\n".encode())
            s.recv(4096)
        metrics = get("/metrics").split("\r\n\r\n", 1)[1]
        for line in ['lifeline_build_info{version="', "process_cpu_seconds_total ", "process_resident_memory_bytes ",
                     "process_open_fds ", "process_max_fds ", "process_start_time_seconds ",
                     'lifeline_requests_total{method="slash.exec",outcome="ok"} 1',
                     'lifeline_requests_total{method="slash.exec",outcome="4004"} 1',
                     'lifeline_request_duration_seconds_count{method="session.create"} 1',
                     'lifeline_auth_failures_total{reason="wrong_token"} 1', "lifeline_sessions_created_total 1",
                     'lifeline_limit{name="max_sessions"} 1024', "lifeline_connections 1"]:
            self.assertIn(line, metrics)
        await c.close()
        # Prometheus's own linter on the live output, and on the shipped alerting rules.
        promtool = shutil.which("promtool")
        if not promtool:
            self.skipTest("promtool is not installed (apt-get install prometheus)")
        out = subprocess.run([promtool, "check", "metrics"], input=metrics, capture_output=True, text=True)
        self.assertEqual((out.returncode, out.stdout + out.stderr), (0, ""))
        rules = os.path.join(os.path.dirname(__file__), "..", "..", "deploy", "prometheus", "alerts.yml")
        out = subprocess.run([promtool, "check", "rules", rules], capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        # Every lifeline metric the alerts and the dashboard use is one the gateway exports.
        dashboard = os.path.join(os.path.dirname(__file__), "..", "..", "deploy", "grafana", "lifeline.json")
        exported = {line.split("{")[0].split(" ")[0] for line in metrics.splitlines() if not line.startswith("#")}
        exported |= {name.rsplit("_", 1)[0] for name in exported if name.endswith(("_bucket", "_count", "_sum"))}
        for path in (rules, dashboard):
            with open(path) as f:
                used = set(re.findall(r"\b((?:lifeline|process)_[a-z_]+)", f.read()))
            used = {u.removesuffix("_bucket") for u in used}
            self.assertEqual(used - exported, set(), path)

    async def test_sigterm_tears_everything_down_and_exits_zero(self):
        c = await self.gw.connect()
        sid = (await c.result("session.create", close_on_disconnect=False))["session_id"]
        _, tree = await self.worker_tree(c, sid)
        self.assertEqual(self.gw.stop(signal.SIGTERM), 0)
        self.assert_all_gone(tree)


class StdioTest(unittest.TestCase):
    def test_stdio_session_ends_at_stdin_eof(self):
        state = Gateway().state_dir
        lines = [json.dumps({"jsonrpc": "2.0", "id": 1, "method": "session.create"})]
        p = subprocess.Popen([GATEWAY, "--stdio", "--state-dir", state], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        p.stdin.write(lines[0] + "\n")
        p.stdin.flush()
        ready = json.loads(p.stdout.readline())
        self.assertEqual(ready["params"]["type"], "gateway.ready")
        sid = json.loads(p.stdout.readline())["result"]["session_id"]
        p.stdin.write(json.dumps({"jsonrpc": "2.0", "id": 2, "method": "slash.exec",
                                  "params": {"session_id": sid, "command": "/pid"}}) + "\n")
        p.stdin.flush()
        worker = int(pids_from(json.loads(p.stdout.readline())["result"]["output"])["pid"])
        p.stdin.close()
        self.assertEqual(p.wait(10), 0)
        self.assertTrue(wait_until(lambda: not alive(worker), 5))

    def test_stdio_last_line_without_its_newline_is_still_answered(self):
        # "requests read before it are still answered": a client that writes its last
        # request and closes stdin without a newline sent that request all the same.
        state = Gateway().state_dir
        out = subprocess.run([GATEWAY, "--stdio", "--state-dir", state], capture_output=True, text=True,
                             input=json.dumps({"jsonrpc": "2.0", "id": 7, "method": "session.active_list"}),
                             timeout=20)
        self.assertEqual(out.returncode, 0, out.stderr)
        replies = [json.loads(line) for line in out.stdout.splitlines()]
        self.assertEqual([r.get("id") for r in replies if "id" in r], [7], out.stdout)
        self.assertEqual(replies[-1]["result"], {"sessions": []})

    def test_stdio_flood_of_requests_is_answered_in_order_without_loss(self):
        # The stdin reader holds back when the event loop has many lines waiting
        # (backpressure); nothing may be dropped or reordered for it.
        state = Gateway().state_dir
        p = subprocess.Popen([GATEWAY, "--stdio", "--state-dir", state], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.addCleanup(p.stdout.close)
        n = 3000
        replies = []

        def read_all():
            for line in p.stdout:
                msg = json.loads(line)
                if "id" in msg:
                    replies.append(msg["id"])

        reader = threading.Thread(target=read_all)
        reader.start()
        for i in range(1, n + 1):
            p.stdin.write((json.dumps({"jsonrpc": "2.0", "id": i, "method": "session.active_list"})
                           + "\n").encode())
        p.stdin.close()
        self.assertEqual(p.wait(30), 0)
        reader.join(10)
        self.assertEqual(replies, list(range(1, n + 1)))

    def test_stdio_client_that_stops_reading_is_ended_not_waited_for(self):
        # A client that writes requests but never reads its replies fills the stdout
        # pipe. The gateway must not block on it: past its queue limit it ends the
        # connection, tears the session down and exits, leaving no worker behind.
        state = Gateway().state_dir
        log = open(os.path.join(state, "stderr.log"), "w+b")
        self.addCleanup(log.close)
        p = subprocess.Popen([GATEWAY, "--stdio", "--state-dir", state], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=log)
        self.addCleanup(p.stdout.close)

        def request(i, method, **params):
            return (json.dumps({"jsonrpc": "2.0", "id": i, "method": method, "params": params})
                    + "\n").encode()
        p.stdin.write(request(1, "session.create", close_on_disconnect=False))
        p.stdin.flush()
        p.stdout.readline()  # gateway.ready
        sid = json.loads(p.stdout.readline())["result"]["session_id"]
        p.stdin.write(request(2, "slash.exec", session_id=sid, command="/pid"))
        p.stdin.flush()
        worker = int(pids_from(json.loads(p.stdout.readline())["result"]["output"])["pid"])
        # From here on nothing is read: 64 KiB of pipe, then the gateway's queue.
        try:
            for i in range(3, 20000):
                p.stdin.write(request(i, "session.active_list"))
            p.stdin.flush()
        except BrokenPipeError:
            pass  # it may already have ended the connection and exited
        self.assertEqual(p.wait(10), 0)  # stdin still open: it was not EOF that ended it
        try:
            p.stdin.close()
        except BrokenPipeError:
            pass
        log.seek(0)
        self.assertIn(b"not reading its stdout", log.read())
        self.assertTrue(wait_until(lambda: not alive(worker), 5))

    def test_help_and_bad_flags(self):
        out = subprocess.run([GATEWAY, "--help"], capture_output=True, text=True)
        self.assertEqual(out.returncode, 0)
        self.assertIn("--orphan-grace", out.stdout)
        bad = subprocess.run([GATEWAY, "--no-such-flag"], capture_output=True, text=True)
        self.assertEqual(bad.returncode, 2)
        self.assertIn("unknown flag", bad.stderr)
        # An address that cannot be bound says which, and why, in one line.
        bad = subprocess.run([GATEWAY, "--listen", "nohost.invalid:0", "--state-dir", Gateway().state_dir],
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(bad.returncode, 1, bad.stderr)
        self.assertIn("cannot listen on nohost.invalid", bad.stderr)

    def test_listen_accepts_localhost(self):
        gw = Gateway("--listen", "localhost:0").start()  # the later --listen wins
        self.addCleanup(gw.stop)
        self.assertTrue(gw.url.startswith("ws://localhost:"), gw.url)
        with socket.create_connection(("127.0.0.1", gw.port), timeout=5) as s:
            s.sendall(f"GET /healthz HTTP/1.1\r\nHost: localhost:{gw.port}\r\n\r\n".encode())
            self.assertIn(b"200", s.recv(4096).split(b"\r\n")[0])



class LogTest(unittest.IsolatedAsyncioTestCase):
    async def shell_session(self, gw):
        c = await gw.connect()
        sid = (await c.result("session.create"))["session_id"]
        pty = (await c.result("pty.open", session_id=sid, cols=80, rows=24))["pty_id"]
        await c.result("pty.close", pty_id=pty)
        await c.close()
        return sid, pty

    async def test_text_lines_carry_an_iso8601_time_and_terminals_leave_an_audit_trail(self):
        gw = Gateway().start()
        try:
            sid, pty = await self.shell_session(gw)
            self.assertTrue(wait_until(lambda: any(f"terminal {pty} closed" in l for l in gw.log), 5))
        finally:
            self.assertEqual(gw.stop(), 0)
        stamped = [l for l in gw.log if " lifeline-gateway " in l]
        self.assertTrue(stamped)
        for line in stamped:
            self.assertRegex(line, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d lifeline-gateway "
                                   r"(debug|info|warn|error): ")
        text = "\n".join(gw.log)
        self.assertRegex(text, rf"session {sid}: terminal {pty} opened \(pid \d+\) by connection \d+")
        self.assertRegex(text, rf"session {sid}: terminal {pty} closed by connection \d+")
        self.assertRegex(text, r"connection \d+ from 127\.0\.0\.1\n")
        self.assertRegex(text, r"connection \d+ from 127\.0\.0\.1 closed")
        self.assertNotIn("Transport endpoint is not connected", text)

    async def test_json_lines_and_the_journal_priority_prefix(self):
        gw = Gateway("--log-format", "json").start()
        try:
            await self.shell_session(gw)
        finally:
            self.assertEqual(gw.stop(), 0)
        objects = [json.loads(l) for l in gw.log if l.startswith("{")]
        self.assertTrue(objects, gw.log)
        for o in objects:
            self.assertEqual(set(o), {"ts", "level", "priority", "msg"})
            self.assertIn((o["level"], o["priority"]), {("debug", 7), ("info", 6), ("warn", 4), ("error", 3)})
        self.assertTrue(any("terminal" in o["msg"] and "opened" in o["msg"] for o in objects))
        # Under systemd (JOURNAL_STREAM set): sd-daemon priority prefixes, no timestamp.
        gw = Gateway(env={"JOURNAL_STREAM": "8:12345"}).start()
        try:
            await self.shell_session(gw)
        finally:
            self.assertEqual(gw.stop(), 0)
        logged = [l for l in gw.log if l.startswith("<")]
        self.assertTrue(logged, gw.log)
        for line in logged:
            self.assertRegex(line, r"^<[3467]>[^<0-9]")
        self.assertTrue(any(l.startswith("<4>") for l in logged) or any(l.startswith("<6>") for l in logged))


class DelegatedCgroupTest(unittest.IsolatedAsyncioTestCase):
    """systemd's Delegate=yes, built by hand: the gateway starts inside a cgroup of its
    own below the root; it must move itself into a leaf, so that controllers can be
    enabled, and its children's cgroups must be that leaf's siblings."""

    async def test_a_delegated_gateway_moves_into_a_leaf_and_children_get_siblings(self):
        root = gateway_harness._CGROUP_ROOT
        if not root or not os.access(os.path.join(root, "cgroup.procs"), os.W_OK):
            self.skipTest("no writable cgroup v2 here")
        delegated = os.path.join(root, f"lifeline-delegated-test-{os.getpid()}")
        os.mkdir(delegated)

        def cleanup():
            for dirpath, _, _ in sorted(os.walk(delegated), key=lambda w: -w[0].count("/")):
                try:
                    os.rmdir(dirpath)
                except OSError:
                    pass
        self.addCleanup(cleanup)

        def enter():
            with open(os.path.join(delegated, "cgroup.procs"), "w") as f:
                f.write("0")
        gw = Gateway(preexec_fn=enter).start()
        try:
            def cgroup_of(pid):
                with open(f"/proc/{pid}/cgroup") as f:
                    return next(l.split("::", 1)[1].strip() for l in f if l.startswith("0::"))
            rel = delegated[len(root.rstrip("/")):] if root.rstrip("/") != "" else delegated
            own = cgroup_of(gw.pid)
            self.assertTrue(own.startswith(rel + "/lifeline-") and own.endswith("-self"), own)
            c = await gw.connect()
            stats = await c.result("gateway.stats")
            self.assertTrue(stats["containment"]["gateway_cgroup"].endswith(own), stats["containment"])
            sid = (await c.result("session.create"))["session_id"]
            out = (await c.result("slash.exec", session_id=sid, command="/pid"))["output"]
            worker = int(re.search(r"pid=(\d+)", out).group(1))
            child = cgroup_of(worker)
            base = own[: -len("-self")]
            self.assertTrue(child.startswith(base + "/c"), f"worker in {child}, gateway in {own}")
            # The limits apply where the controllers are offered; else it says why.
            with open(os.path.join(delegated, "cgroup.controllers")) as f:
                offered = f.read().split()
            containment = stats["containment"]
            if "pids" in offered:
                self.assertEqual(containment["pids_max"], 1024, containment)
            else:
                print(f"\n(this host offers {offered or 'no controllers'} in {delegated}: "
                      f"pids.max is not checked: {containment.get('limits_not_applied')})")
                self.assertIn("pids", containment.get("limits_not_applied", ""))
            await c.close()
        finally:
            self.assertEqual(gw.stop(), 0)


class QuickStopTest(unittest.TestCase):
    def test_an_idle_gateway_exits_promptly_on_sigterm(self):
        # It used to wait 2 s for far-off timers (the daily prune, the idle eviction).
        gw = Gateway().start()
        t0 = time.monotonic()
        self.assertEqual(gw.stop(), 0)
        took = time.monotonic() - t0
        print(f"\nidle gateway: SIGTERM to exit in {took * 1000:.0f} ms")
        self.assertLess(took, 1.5)


if __name__ == "__main__":
    unittest.main(verbosity=2)
