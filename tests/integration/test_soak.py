"""lifeline-soak (issue 13): its audits catch what they are for, a short soak with kills
and faults passes, and a half-open peer behind nginx is still detected by the gateway.

Each planted leak is a real one: an escaped process or zombie carrying the gateway's
marker, a gateway that leaks an fd per connection or drops replies (planted-bug fault
points, runtime/gateway/faults.hpp), a store that lost or doubled an acknowledged entry.
Each must turn the verdict to FAIL with the right count in the last line.
"""
import asyncio
import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from gateway_harness import BUILD, Client, Gateway  # noqa: E402

SOAK = os.path.join(BUILD, "runtime/lifeline-soak")
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
LAST = re.compile(r"^soak: (\d+) lifecycles, (\d+) gateway kills, (\d+) faults, leaked processes (\d+), "
                  r"zombies (\d+), fd growth (\d+), lost acknowledged entries (\d+): (PASS|FAIL)(?: \(failed audits: (.+)\))?$")


def run_soaks(runs, timeout=150):
    """Runs several soaks at once (each on its own scratch dir and port)."""
    procs = {name: subprocess.Popen([SOAK] + args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for name, args in runs.items()}
    out = {}
    for name, p in procs.items():
        text, _ = p.communicate(timeout=timeout)
        lines = text.strip().splitlines()
        m = LAST.match(lines[-1]) if lines else None
        out[name] = (p.returncode, text, m)
    return out


class PlantedLeaksTest(unittest.TestCase):
    def test_each_audit_catches_its_planted_leak(self):
        common = ["--duration", "10", "--clients", "3", "--seed", "7", "--kill-every", "4", "--settle", "3"]
        kinds = ["process", "zombie", "fd", "lost-entry", "duplicate-entry", "unanswered"]
        # A reply dropped just before a kill is indistinguishable from one the kill cut
        # short, so the dropped-reply gateway is not killed.
        results = run_soaks({k: common + ["--plant", k] + (["--kill-every", "0"] if k == "unanswered" else [])
                             for k in kinds})
        for kind, (rc, text, m) in results.items():
            with self.subTest(kind=kind):
                self.assertIsNotNone(m, f"no final line:\n{text}")
                self.assertEqual((rc, m.group(8)), (1, "FAIL"), text)
                self.assertTrue(m.group(9), f"a FAIL names its failed audits:\n{text}")
                lifecycles, kills, faults, procs, zombies, fds, lost = map(int, m.groups()[:7])
                self.assertGreater(lifecycles, 0, text)
                if kind == "process":
                    self.assertGreaterEqual(procs, 1, text)
                elif kind == "zombie":
                    self.assertGreaterEqual(zombies, 1, text)
                elif kind == "fd":
                    self.assertGreater(fds, 0, text)
                elif kind == "lost-entry":
                    self.assertEqual(lost, 1, text)
                elif kind == "duplicate-entry":
                    self.assertIn("entries stored twice", text)
                elif kind == "unanswered":
                    self.assertIn("never answered", text)
                # The planted fault is the only one: the other counts stay clean.
                if kind not in ("process", "zombie"):
                    self.assertEqual((procs, zombies), (0, 0), text)

    def test_a_short_soak_with_kills_and_faults_passes(self):
        out_dir = tempfile.mkdtemp(prefix="lifeline-soak-out-")
        results = run_soaks({"clean": ["--duration", "15", "--clients", "4", "--seed", "11", "--kill-every", "5",
                                       "--faults", "0.6", "--out", out_dir]})
        rc, text, m = results["clean"]
        self.assertIsNotNone(m, text)
        self.assertEqual((rc, m.group(8)), (0, "PASS"), text)
        self.assertGreaterEqual(int(m.group(2)), 2, text)  # it did kill and restart the gateway
        self.assertIn("seed 11", text.splitlines()[0])
        with open(os.path.join(out_dir, "soak.csv")) as f:
            rows = f.read().splitlines()
        self.assertTrue(rows[0].startswith("t_s,lifecycles,kills,faults,processes"))
        self.assertGreater(len(rows), 4)
        with open(os.path.join(out_dir, "soak.svg")) as f:
            self.assertIn("<polyline", f.read())
        shutil.rmtree(out_dir)

    def test_bad_usage_is_refused(self):
        for args in (["--clients", "0"], ["--plant", "nothing"], ["--duration", "soon"], ["--bogus"]):
            p = subprocess.run([SOAK] + args, capture_output=True, text=True, timeout=10)
            self.assertEqual(p.returncode, 2, args)
            self.assertIn("lifeline-soak:", p.stderr)
        self.assertEqual(subprocess.run([SOAK, "--help"], capture_output=True, timeout=10).returncode, 0)


def ws_frame(text):
    """One masked text frame, as a client must send it."""
    payload = text.encode()
    mask = os.urandom(4)
    head = bytes([0x81])
    n = len(payload)
    head += bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + n.to_bytes(2, "big")
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


@unittest.skipUnless(NGINX, "nginx is not installed (apt-get install nginx-light): no proxy test")
class HalfOpenBehindNginxTest(unittest.IsolatedAsyncioTestCase):
    """nginx keeps its own TCP connection to the gateway healthy whatever the client does,
    so only the gateway's WebSocket pings can tell that a client went silent."""

    async def asyncSetUp(self):
        self.gw = Gateway("--ping-interval", "1", "--ping-timeout", "1", "--allowed-host", "127.0.0.1").start()
        self.prefix = tempfile.mkdtemp(prefix="lifeline-nginx-")
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.proxy_port = s.getsockname()[1]
        s.close()
        p = self.prefix
        # A long proxy_read_timeout: nginx itself will not cut the silent client.
        with open(os.path.join(p, "nginx.conf"), "w") as f:
            f.write(f"daemon off;\nworker_processes 1;\nerror_log stderr warn;\npid {p}/nginx.pid;\n"
                    "events { worker_connections 64; }\nhttp {\n  access_log off;\n"
                    f"  client_body_temp_path {p}/body;\n  proxy_temp_path {p}/proxy;\n"
                    f"  fastcgi_temp_path {p}/fcgi;\n  uwsgi_temp_path {p}/uwsgi;\n  scgi_temp_path {p}/scgi;\n"
                    f"  server {{\n    listen 127.0.0.1:{self.proxy_port};\n    location / {{\n"
                    f"      proxy_pass http://127.0.0.1:{self.gw.port};\n      proxy_http_version 1.1;\n"
                    "      proxy_set_header Upgrade $http_upgrade;\n      proxy_set_header Connection \"upgrade\";\n"
                    "      proxy_set_header Host $host;\n      proxy_read_timeout 3600s;\n"
                    "      proxy_send_timeout 3600s;\n    }\n  }\n}\n")
        self.nginx = subprocess.Popen([NGINX, "-p", p, "-c", f"{p}/nginx.conf"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.proxy_port), 0.2).close()
                break
            except OSError:
                time.sleep(0.05)

    async def asyncTearDown(self):
        self.nginx.terminate()
        self.nginx.wait(10)
        self.gw.stop()
        shutil.rmtree(self.prefix, ignore_errors=True)

    async def test_silent_client_behind_nginx_loses_its_session_within_the_ping_bound(self):
        # A raw client: it upgrades, creates a session, then never reads again, so it
        # answers no ping; its kernel keeps the TCP connection to nginx open and acked.
        sock = socket.create_connection(("127.0.0.1", self.proxy_port))
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall((f"GET /ws?token={self.gw.token} HTTP/1.1\r\nHost: 127.0.0.1:{self.proxy_port}\r\n"
                      f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                      "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(1)
        self.assertIn(b" 101 ", head.split(b"\r\n")[0])
        sock.sendall(ws_frame(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "session.create", "params": {}})))
        watcher = await Client.open(self.gw.url + "?token=" + self.gw.token)

        async def live_ids():
            r = await watcher.result("session.active_list")
            return [s["session_id"] for s in r["sessions"]]

        async def poll(done, timeout):
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                ids = await live_ids()
                if done(ids):
                    return ids
                await asyncio.sleep(0.05)
            return await live_ids()

        ids = await poll(lambda ids: len(ids) == 1, 5)
        self.assertEqual(len(ids), 1, "the silent client's session was never created")
        created = time.monotonic()
        # Ping interval 1 s + timeout 1 s, then the 2 s close limit: well within 10 s.
        ids = await poll(lambda ids: not ids, 10)
        self.assertEqual(ids, [], "the silent client's session outlived the ping bound")
        self.assertLess(time.monotonic() - created, 10)
        sock.close()
        await watcher.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
