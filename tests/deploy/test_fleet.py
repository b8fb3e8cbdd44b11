"""The fleet test (issue 26, docs/PROTOCOL.md section 11): two gateways sharing one
PostgreSQL store behind Debian's nginx with deploy/nginx/lifeline.conf. Gateway A is
SIGKILLed and not restarted; its client comes back through the proxy, lands on B, and
resumes its session there once A's lease has expired: its history is intact and its old
incarnation is recorded as ended (instance_lost)."""
import asyncio
import os
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
sys.path.insert(0, os.path.dirname(__file__))
from gateway_harness import Client, Gateway, ShowsGatewayLog  # noqa: E402
from nginx_proxy import NGINX, Proxy, free_port, ready_instance  # noqa: E402
from postgres import Postgres  # noqa: E402

TOKEN = "shared-token-of-the-whole-fleet"


@unittest.skipUnless(NGINX, "nginx is not installed (apt-get install nginx-light): no proxy test")
class FleetTest(ShowsGatewayLog, unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        self.pg = Postgres().start()
        port = free_port()
        host = f"127.0.0.1:{port}"
        common = ("--store", self.pg.url, "--lease-ttl", "3", "--token", TOKEN,
                  "--allowed-host", host, "--allowed-origin", f"http://{host}")
        self.a = Gateway("--instance", "gw-a", *common).start()
        self.b = Gateway("--instance", "gw-b", *common).start()
        self.gw = self.b
        self.proxy = Proxy(self.a.port, self.b.port, TOKEN, port)
        await self.proxy.wait_ready()

    async def asyncTearDown(self):
        self.proxy.destroy()
        self.a.stop()
        self.b.stop()
        self.pg.destroy()

    async def test_a_client_of_a_lost_gateway_resumes_on_another_with_its_history(self):
        # A session on gw-a, pinned there by the proxy's ?gw=.
        c = await Client.open(f"{self.proxy.url}&gw=gw-a")
        self.assertEqual(await ready_instance(c), "gw-a")
        s = await c.result("session.create", close_on_disconnect=False, title="on a")
        for word in ("one", "two"):
            await c.result("slash.exec", session_id=s["session_id"], command=f"/echo {word}")
        self.a.stop(signal.SIGKILL)  # the host is gone: no restart
        c.abort()

        # The client comes back through the proxy without a pin: nginx passes over the
        # dead gateway. Until A's lease expires B names A; then B claims the history.
        t = time.monotonic()
        refused_with_owner = False
        while True:
            back = await Client.open(self.proxy.url)
            self.assertEqual(await ready_instance(back), "gw-b")
            msg = await back.call("session.resume", session_id=s["session_id"])
            if "result" in msg:
                break
            self.assertEqual(msg["error"]["code"], 4011, msg)
            self.assertEqual(msg["error"]["data"]["instance"], "gw-a")
            refused_with_owner = True
            await back.close()
            self.assertLess(time.monotonic() - t, 15, "the lease never expired")
            await asyncio.sleep(0.25)
        self.assertTrue(refused_with_owner, "while A's lease was current, B named A")
        self.assertEqual(msg["result"].get("claimed_from"), "gw-a", msg)
        new_id = msg["result"]["session_id"]
        entries = (await back.result("session.history", session_id=new_id))["entries"]
        self.assertEqual([e["output"] for e in entries], ["one", "two"], "the history is intact")
        r = await back.result("slash.exec", session_id=new_id, command="/echo three")
        self.assertEqual(r["seq"], 3)
        rows = dict((sid, reason) for sid, reason in
                    self.pg.psql("SELECT session_id, COALESCE(end_reason, '') FROM sessions"))
        self.assertEqual(rows[s["session_id"]], "instance_lost", "A's incarnation is recorded ended")
        self.assertEqual(rows[new_id], "", "B's session is live")
        await back.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
