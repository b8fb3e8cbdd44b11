"""Integration tests of the warm worker pool (docs/DESIGN.md rule 18), over the real
gateway and real workers: pooled workers are children from birth, a session takes one
whole, none is reused, and they die with the gateway however it ends.

Measured, not assumed: the process tree under the gateway (psutil), /proc cmdlines, the
gateway's /metrics. Liveness bounds are generous (seconds)."""
import asyncio
import os
import signal
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from gateway_harness import Gateway, ShowsGatewayLog, alive, http_get, sanitized_build, wait_until  # noqa: E402

import psutil  # noqa: E402

POOL = 2


def cmdline(pid):
    try:
        return psutil.Process(pid).cmdline()
    except psutil.NoSuchProcess:
        return []


class PoolTest(ShowsGatewayLog, unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        self.gw = Gateway("--worker-pool", str(POOL), "--orphan-grace", "1").start()
        self.c = await self.gw.connect()
        self.assertTrue(await self.until_pooled(POOL), await self.c.result("gateway.stats"))

    async def asyncTearDown(self):
        await self.c.close()
        self.gw.stop()

    async def pooled(self):
        workers = (await self.c.result("gateway.workers"))["workers"]
        return {w["pid"] for w in workers if w["session_id"] is None}

    async def until_pooled(self, n, timeout=5.0):
        for _ in range(int(timeout / 0.05)):
            if len(await self.pooled()) == n:
                return True
            await asyncio.sleep(0.05)
        return False

    def metrics(self):
        body = http_get(self.gw.port, "/metrics").split("\r\n\r\n", 1)[1]
        return {line.split(" ")[0]: float(line.split(" ")[1])
                for line in body.splitlines() if line and not line.startswith("#")}

    async def test_pooled_workers_are_children_of_the_gateway_with_no_key_on_their_command_line(self):
        pids = await self.pooled()
        children = {p.pid for p in psutil.Process(self.gw.pid).children()}
        self.assertLessEqual(pids, children)
        for pid in pids:
            argv = cmdline(pid)
            self.assertIn("--pooled", argv)
            self.assertNotIn("--session-key", argv)
            self.assertEqual(os.getpgid(pid), pid, "a process group of its own")
        stats = await self.c.result("gateway.stats")
        self.assertEqual(stats["workers_pooled"], POOL)

    async def test_a_session_takes_a_pooled_worker_that_serves_it_alone_and_ends_with_it(self):
        before = await self.pooled()
        served = set()
        for _ in range(3):
            sid = (await self.c.result("session.create"))["session_id"]
            out = await self.c.result("slash.exec", session_id=sid, command="/pid")
            pid = int(dict(kv.split("=") for kv in out["output"].split())["pid"])
            self.assertNotIn(pid, served, "a worker is never reused")
            if not served:
                self.assertIn(pid, before, "the first session's worker came from the pool")
            served.add(pid)
            bound = await self.c.result("slash.exec", session_id=sid, command="/session")
            self.assertTrue(bound["ok"])
            self.assertTrue(bound["output"], "the bind told the worker its session key")
            await self.c.result("session.close", session_id=sid)
            self.assertTrue(wait_until(lambda: not alive(pid), 5), f"worker {pid} outlived its session")
            self.assertTrue(await self.until_pooled(POOL), "refilled")
            self.assertFalse(served & await self.pooled(), "a served worker never returns to the pool")

    async def test_pool_memory_is_reported_and_within_two_mib_per_worker(self):
        m = self.metrics()
        self.assertEqual(m["lifeline_worker_pool_size"], POOL)
        self.assertEqual(m["lifeline_worker_pool_target"], POOL)
        self.assertGreater(m["lifeline_worker_pool_resident_bytes"], 0)
        if not sanitized_build():  # a sanitizer's shadow memory is not the worker's cost
            self.assertLessEqual(m["lifeline_worker_pool_resident_max_bytes"], 2 * 1024 * 1024)

    async def test_pooled_workers_die_with_a_sigkilled_gateway(self):
        pids = await self.pooled()
        await self.c.close()
        self.gw.stop(signal.SIGKILL)
        self.assertTrue(wait_until(lambda: not any(alive(p) for p in pids), 10),
                        [p for p in pids if alive(p)])
        self.c = _Closed()

    async def test_sigterm_drains_the_pool_and_the_gateway_exits_clean(self):
        pids = await self.pooled()
        await self.c.close()
        self.assertEqual(self.gw.stop(signal.SIGTERM), 0)
        self.assertTrue(wait_until(lambda: not any(alive(p) for p in pids), 5),
                        [p for p in pids if alive(p)])
        self.c = _Closed()


class _Closed:
    async def close(self):
        pass


if __name__ == "__main__":
    unittest.main(verbosity=2)
