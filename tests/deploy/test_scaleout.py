"""Scale-out behind nginx (issue 15): two gateways, Debian's nginx as an unprivileged
child with deploy/nginx/lifeline.conf (ports rewritten), a session created through the
proxy, the connection dropped, and the session resumed through the proxy on the gateway
that holds it - by the instance name gateway.ready reported.
"""
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from gateway_harness import Client, Gateway  # noqa: E402

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
CONF = os.path.join(os.path.dirname(__file__), "..", "..", "deploy", "nginx", "lifeline.conf")


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@unittest.skipUnless(NGINX, "nginx is not installed (apt-get install nginx-light): no proxy test")
class ScaleOutTest(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        self.proxy_port = free_port()
        host = f"127.0.0.1:{self.proxy_port}"
        common = ("--token", "shared-token-of-both-gateways", "--allowed-host", host,
                  "--allowed-origin", f"http://{host}")
        self.a = Gateway("--instance", "gw-a", *common).start()
        self.b = Gateway("--instance", "gw-b", *common).start()
        self.prefix = tempfile.mkdtemp(prefix="lifeline-nginx-")
        with open(CONF) as f:
            site = f.read()
        site = (site.replace("127.0.0.1:8765", f"127.0.0.1:{self.a.port}")
                    .replace("127.0.0.1:8766", f"127.0.0.1:{self.b.port}")
                    .replace("listen 127.0.0.1:8080", f"listen {host}")
                    .replace("/var/log/nginx/lifeline.access.log", f"{self.prefix}/access.log"))
        with open(os.path.join(self.prefix, "lifeline.conf"), "w") as f:
            f.write(site)
        with open(os.path.join(self.prefix, "nginx.conf"), "w") as f:
            f.write("daemon off;\nworker_processes 1;\nerror_log stderr warn;\n"
                    f"pid {self.prefix}/nginx.pid;\nevents {{ worker_connections 256; }}\n"
                    "http {\n  access_log off;\n"
                    f"  client_body_temp_path {self.prefix}/body;\n  proxy_temp_path {self.prefix}/proxy;\n"
                    f"  fastcgi_temp_path {self.prefix}/fcgi;\n  uwsgi_temp_path {self.prefix}/uwsgi;\n"
                    f"  scgi_temp_path {self.prefix}/scgi;\n  include {self.prefix}/lifeline.conf;\n}}\n")
        self.nginx = subprocess.Popen([NGINX, "-p", self.prefix, "-c", f"{self.prefix}/nginx.conf"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                c = await Client.open(f"ws://{host}/ws?token=shared-token-of-both-gateways")
                await c.close()
                break
            except OSError:
                await asyncio.sleep(0.1)
        self.url = f"ws://{host}/ws?token=shared-token-of-both-gateways"

    async def asyncTearDown(self):
        self.nginx.terminate()
        self.nginx.wait(10)
        self.a.stop()
        self.b.stop()
        shutil.rmtree(self.prefix, ignore_errors=True)

    async def ready_instance(self, client):
        for _ in range(100):
            for e in client.events:
                if e.get("type") == "gateway.ready":
                    return e["payload"]["instance"]
            await asyncio.sleep(0.02)
        raise AssertionError("no gateway.ready")

    async def test_the_access_log_never_holds_the_token(self):
        c = await Client.open(self.url)
        await self.ready_instance(c)
        await c.close()
        self.nginx.terminate()  # flushes the log
        self.nginx.wait(10)
        with open(os.path.join(self.prefix, "access.log")) as f:
            log = f.read()
        self.assertIn("GET /ws ", log)
        self.assertNotIn("shared-token", log)
        self.assertNotIn("token=", log)

    async def test_resume_through_the_proxy_reaches_the_gateway_that_holds_the_session(self):
        c = await Client.open(self.url)
        instance = await self.ready_instance(c)
        self.assertIn(instance, ("gw-a", "gw-b"))
        sid = (await c.result("session.create", close_on_disconnect=False))["session_id"]
        await c.result("slash.exec", session_id=sid, command="/echo kept")
        c.abort()  # a dropped connection: the session is detached, within its grace
        holder, other = (self.a, self.b) if instance == "gw-a" else (self.b, self.a)
        for _ in range(3):  # by query, whatever the round robin would pick
            back = await Client.open(f"{self.url}&gw={instance}")
            self.assertEqual(await self.ready_instance(back), instance)
            r = await back.result("session.resume", session_id=sid)
            self.assertEqual(r["session_id"], sid)
            self.assertEqual(r["status"], "idle")
            hist = await back.result("session.history", session_id=sid)
            self.assertEqual([e["output"] for e in hist["entries"]], ["kept"])
            await back.close()
        # By cookie too (what a page would carry).
        cookie = await Client.open(self.url, extra_headers={"Cookie": f"lifeline_gw={instance}"})
        self.assertEqual(await self.ready_instance(cookie), instance)
        await cookie.close()
        # The other gateway has never heard of it: nothing is shared.
        elsewhere_name = "gw-b" if instance == "gw-a" else "gw-a"
        wrong = await Client.open(f"{self.url}&gw={elsewhere_name}")
        self.assertEqual((await wrong.call("session.resume", session_id=sid))["error"]["code"], 4007)
        await wrong.close()
        self.assertTrue(any(f"session {sid} resumed" in line for line in holder.log))
        self.assertFalse(any(sid in line for line in other.log))


if __name__ == "__main__":
    unittest.main(verbosity=2)
