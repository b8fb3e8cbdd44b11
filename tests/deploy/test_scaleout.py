"""Scale-out behind nginx (issue 15): two gateways, Debian's nginx as an unprivileged
child with deploy/nginx/lifeline.conf (ports rewritten), a session created through the
proxy, the connection dropped, and the session resumed through the proxy on the gateway
that holds it - by the instance name gateway.ready reported.
"""
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
sys.path.insert(0, os.path.dirname(__file__))
from gateway_harness import Client, Gateway  # noqa: E402
from nginx_proxy import NGINX, Proxy, free_port, ready_instance  # noqa: E402

TOKEN = "shared-token-of-both-gateways"


@unittest.skipUnless(NGINX, "nginx is not installed (apt-get install nginx-light): no proxy test")
class ScaleOutTest(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        port = free_port()
        host = f"127.0.0.1:{port}"
        self.a = Gateway("--instance", "gw-a", "--token", TOKEN, "--allowed-host", host,
                         "--allowed-origin", f"http://{host}").start()
        self.b = Gateway("--instance", "gw-b", "--token", TOKEN, "--allowed-host", host,
                         "--allowed-origin", f"http://{host}").start()
        self.proxy = Proxy(self.a.port, self.b.port, TOKEN, port)
        await self.proxy.wait_ready()
        self.prefix = self.proxy.prefix
        self.nginx = self.proxy.proc
        self.url = self.proxy.url

    async def asyncTearDown(self):
        self.proxy.destroy()
        self.a.stop()
        self.b.stop()

    async def ready_instance(self, client):
        return await ready_instance(client)

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
