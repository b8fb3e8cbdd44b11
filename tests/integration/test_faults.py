"""Fault injection (libfiu points in the runtime, enabled by LIFELINE_FAULTS): every
failure must give the client a clear error or be a logged degradation, never a leak,
a hang or a crash; and nothing acknowledged may be missing from the store."""
import asyncio
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from gateway_harness import Gateway, wait_until  # noqa: E402


class FaultTest(unittest.IsolatedAsyncioTestCase):
    async def gateway(self, faults, *args):
        self.gw = Gateway("--slash-timeout", "1", *args, env={"LIFELINE_FAULTS": faults}).start()
        self.assertTrue(any("fault injection enabled" in line for line in self.gw.log) or
                        wait_until(lambda: any("fault injection enabled" in line for line in self.gw.log), 2))
        return await self.gw.connect()

    async def asyncTearDown(self):
        if hasattr(self, "gw"):
            self.assertEqual(self.gw.stop(), 0, "the gateway must survive every fault and exit cleanly")

    async def assert_no_leak(self, c, baseline_fds):
        self.assertTrue(wait_until(lambda: self.gw.descendants() == set(), 5), self.gw.descendants())
        self.assertEqual(self.gw.zombies(), [])
        self.assertTrue(wait_until(lambda: self.gw.fd_count() <= baseline_fds, 5),
                        f"fds {self.gw.fd_count()} > baseline {baseline_fds}")
        stats = await c.result("gateway.stats")
        self.assertEqual(stats["workers_live"], 0)

    async def test_spawn_faults_answer_5030_and_leak_nothing(self):
        for point in ("lifeline/spawn/fork", "lifeline/spawn/pipe", "lifeline/spawn/pidfd"):
            with self.subTest(point=point):
                c = await self.gateway(point)
                baseline = self.gw.fd_count()
                sid = (await c.result("session.create"))["session_id"]
                for _ in range(20):
                    r = await c.call("slash.exec", session_id=sid, command="/echo x")
                    self.assertEqual(r["error"]["code"], 5030, r)
                    self.assertTrue(r["error"]["data"])  # what failed, e.g. "fork: injected fault (EAGAIN)"
                stats = await c.result("gateway.stats")
                self.assertEqual(stats["spawn_failures"], 20)
                await c.result("session.close", session_id=sid)
                await self.assert_no_leak(c, baseline)
                await c.close()
                self.assertEqual(self.gw.stop(), 0)
                del self.gw

    async def test_write_and_read_faults_degrade_to_errors_and_replace_the_worker(self):
        for point, code in (("lifeline/write", 5031), ("lifeline/read", 5032)):
            with self.subTest(point=point):
                c = await self.gateway(point)
                baseline = self.gw.fd_count()
                sid = (await c.result("session.create"))["session_id"]
                for _ in range(3):
                    r = await c.call("slash.exec", session_id=sid, command="/echo x")
                    self.assertEqual(r["error"]["code"], code, r)
                await c.result("session.close", session_id=sid)
                await self.assert_no_leak(c, baseline)
                await c.close()
                self.assertEqual(self.gw.stop(), 0)
                del self.gw

    async def test_flaky_store_never_loses_an_acknowledged_entry(self):
        c = await self.gateway("lifeline/store/append=0.5")
        created = await c.result("session.create")
        sid, key = created["session_id"], created["session_key"]
        acked, refused = [], 0
        for i in range(40):
            r = await c.call("slash.exec", session_id=sid, command=f"/echo n{i}")
            if "result" in r:
                acked.append(r["result"]["output"])
            else:
                self.assertEqual(r["error"]["code"], 5033, r)
                self.assertTrue(r["error"]["data"]["ran"])
                refused += 1
        self.assertGreater(len(acked), 0)
        self.assertGreater(refused, 0)
        # Reads are healthy: history holds exactly what was acknowledged, in order.
        hist = (await c.result("session.history", session_key=key))["entries"]
        self.assertEqual([e["output"] for e in hist], acked)
        await c.close()

    async def test_store_read_faults_answer_5033(self):
        c = await self.gateway("lifeline/store/read")
        r = await c.call("session.history", session_key="k")
        self.assertEqual(r["error"]["code"], 5033)
        r = await c.call("session.resume", session_id="s-unknown")
        self.assertEqual(r["error"]["code"], 5033)
        sid = (await c.result("session.create"))["session_id"]
        self.assertEqual((await c.result("slash.exec", session_id=sid, command="/echo ok"))["output"], "ok")
        await c.close()

    async def test_an_end_the_store_refused_is_recorded_at_a_clean_shutdown(self):
        import sqlite3
        c = await self.gateway("lifeline/store/end")
        sid = (await c.result("session.create"))["session_id"]
        await c.result("session.close", session_id=sid)
        self.assertTrue(wait_until(lambda: any("could not record the end" in l for l in self.gw.log), 5))
        await c.close()
        self.assertEqual(self.gw.stop(), 0)
        self.assertTrue(any("recorded the end of 1 sessions whose end the store had refused" in l
                            for l in self.gw.log), self.gw.log[-5:])
        db = sqlite3.connect(os.path.join(self.gw.state_dir, "lifeline.db"))
        ended = db.execute("SELECT ended_at FROM sessions WHERE session_id=?", (sid,)).fetchone()
        db.close()
        self.assertIsNotNone(ended and ended[0], "no session may be left without an end")

    async def test_random_mixed_faults_leave_nothing_behind(self):
        c = await self.gateway("lifeline/spawn/fork=0.3,lifeline/write=0.2,lifeline/store/append=0.3,"
                               "lifeline/store/start=0.3,lifeline/store/end=0.3")
        baseline = self.gw.fd_count()
        for i in range(30):
            sid = (await c.result("session.create"))["session_id"]
            for _ in range(2):
                r = await c.call("slash.exec", session_id=sid, command="/spawn 1 --setsid")
                self.assertTrue("result" in r or r["error"]["code"] in (5030, 5031, 5033), r)
            await c.result("session.close", session_id=sid)
        await self.assert_no_leak(c, baseline)
        await c.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
