"""The PostgreSQL store (docs/DESIGN.md rule 15 and Durability, docs/PROTOCOL.md section 11) through the
real gateway, against a throwaway cluster (postgres.py): transcripts shared by gateways
of a fleet, a restart that ends only its own instance's sessions, an outage that fails
requests fast and loses nothing acknowledged, and start-up refusals (exit 1)."""
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from gateway_harness import GATEWAY, Gateway, ShowsGatewayLog, alive, http_get, until  # noqa: E402
from postgres import Postgres  # noqa: E402

STORE_UNAVAILABLE = 5033
SESSION_ELSEWHERE = 4011
LEASE = ("--lease-ttl", "2")  # renewed every 0.67 s; its holder stops serving at 1.6 s


class ClusterTest(ShowsGatewayLog, unittest.IsolatedAsyncioTestCase):
    """One throwaway cluster per class, emptied before each test; gateways over it."""
    lease = ()  # extra gateway flags

    @classmethod
    def setUpClass(cls):
        cls.pg = Postgres().start()

    @classmethod
    def tearDownClass(cls):
        cls.pg.destroy()

    def setUp(self):
        self.pg.psql("DROP TABLE IF EXISTS sessions, transcript, meta, leases")
        self.gateways = []

    def tearDown(self):
        for gw in self.gateways:
            if gw.proc.poll() is None:
                os.kill(gw.pid, signal.SIGCONT)  # one a test stopped
            gw.stop()

    def gateway(self, instance, *args, state_dir=None):
        gw = Gateway("--store", self.pg.url, "--instance", instance, *self.lease, *args,
                     state_dir=state_dir)
        self.gw = gw  # ShowsGatewayLog prints the last one's log on failure
        self.gateways.append(gw)
        return gw.start()


class PostgresStoreTest(ClusterTest):
    async def test_a_history_written_by_one_gateway_is_read_and_continued_by_another(self):
        east = self.gateway("east")
        c = await east.connect()
        s = await c.result("session.create", title="shared")
        for word in ("one", "two"):
            r = await c.result("slash.exec", session_id=s["session_id"], command=f"/echo {word}")
            self.assertTrue(r["ok"])
        await c.result("session.close", session_id=s["session_id"])
        await c.close()

        west = self.gateway("west")
        w = await west.connect()
        entries = (await w.result("session.history", session_id=s["session_id"]))["entries"]
        self.assertEqual([e["output"] for e in entries], ["one", "two"])
        resumed = await w.result("session.resume", session_id=s["session_id"])
        self.assertTrue(resumed["from_store"])
        r = await w.result("slash.exec", session_id=resumed["session_id"], command="/echo three")
        self.assertEqual(r["seq"], 3, "the history continues where east left it")
        stats = await w.result("gateway.stats")
        self.assertEqual(stats["lease"], {"instance": "west", "current": True})
        await w.close()
        rows = dict((sid, inst) for sid, inst in self.pg.psql("SELECT session_id, instance FROM sessions"))
        self.assertEqual(rows[s["session_id"]], "east")
        self.assertEqual(rows[resumed["session_id"]], "west")

    async def test_a_restarted_instance_ends_its_own_open_sessions_and_no_others(self):
        east = self.gateway("east")
        west = self.gateway("west")
        ce, cw = await east.connect(), await west.connect()
        se = await ce.result("session.create", close_on_disconnect=False)
        sw = await cw.result("session.create", close_on_disconnect=False)
        await ce.result("slash.exec", session_id=se["session_id"], command="/echo kept")
        east.stop(signal.SIGKILL)
        open_rows = {r[0] for r in self.pg.psql("SELECT session_id FROM sessions WHERE ended_at IS NULL")}
        self.assertEqual(open_rows, {se["session_id"], sw["session_id"]})

        again = self.gateway("east", state_dir=east.state_dir)
        reasons = dict(self.pg.psql("SELECT session_id, COALESCE(end_reason, '') FROM sessions"))
        self.assertEqual(reasons[se["session_id"]], "shutdown", "east's own session is over")
        self.assertEqual(reasons[sw["session_id"]], "", "west's live session is not east's to end")
        c = await again.connect()
        entries = (await c.result("session.history", session_id=se["session_id"]))["entries"]
        self.assertEqual([e["output"] for e in entries], ["kept"])
        await c.close()
        await cw.close()

    async def test_an_outage_fails_requests_fast_and_loses_nothing_acknowledged(self):
        gw = self.gateway("east")
        c = await gw.connect()
        s = await c.result("session.create")
        acked, failed, slowest_failure = [], 0, 0.0
        stop = asyncio.Event()

        async def load():
            nonlocal failed, slowest_failure
            i = 0
            while not stop.is_set():
                i += 1
                t = time.monotonic()
                msg = await c.call("slash.exec", session_id=s["session_id"], command=f"/echo n{i}")
                took = time.monotonic() - t
                if "result" in msg:
                    acked.append((msg["result"]["seq"], f"n{i}"))
                else:
                    self.assertEqual(msg["error"]["code"], STORE_UNAVAILABLE, msg)
                    failed += 1
                    slowest_failure = max(slowest_failure, took)
                    await asyncio.sleep(0.02)

        runner = asyncio.ensure_future(load())
        await asyncio.sleep(0.5)
        before = len(acked)
        await asyncio.get_running_loop().run_in_executor(None, self.pg.stop)
        await asyncio.sleep(1.5)  # the database is down: requests must fail, not wait
        down_failures = failed
        await asyncio.get_running_loop().run_in_executor(None, self.pg.start)
        # Recovery: new entries are acknowledged again within a few seconds.
        deadline = time.monotonic() + 15
        mark = len(acked)
        while len(acked) < mark + 5 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        stop.set()
        await runner
        self.assertGreater(before, 0)
        self.assertGreater(down_failures, 0, "requests during the outage got store_unavailable")
        self.assertLess(slowest_failure, 2.0, "a failure came fast, not after a hang")
        self.assertGreaterEqual(len(acked), mark + 5, "the store reconnected")
        stored = {int(seq): bytes.fromhex(text[2:]).decode()
                  for seq, text in self.pg.psql("SELECT seq, text FROM transcript")}
        for seq, word in acked:
            self.assertEqual(stored.get(seq), word, f"acknowledged entry {seq} is in the database")
        self.assertTrue(any("cannot reach" in line or "lost the connection" in line for line in gw.log))
        self.assertTrue(any("reconnected" in line for line in gw.log), gw.log)
        await c.close()

    def test_a_database_it_cannot_reach_or_does_not_know_stops_the_start(self):
        state = tempfile.mkdtemp(prefix="lifeline-pg-state-")

        def start(url):
            t = time.monotonic()
            proc = subprocess.run([GATEWAY, "--listen", "127.0.0.1:0", "--state-dir", state,
                                   "--store", url, "--instance", "east"],
                                  capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
            return proc, time.monotonic() - t

        proc, took = start(f"postgresql://postgres@/lifeline?host={tempfile.mkdtemp()}")
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn("cannot connect to store", proc.stderr)
        self.assertLess(took, 10)
        self.pg.psql("CREATE TABLE IF NOT EXISTS meta (key text PRIMARY KEY, value text NOT NULL)")
        self.pg.psql("INSERT INTO meta VALUES ('schema_version', '99') "
                     "ON CONFLICT (key) DO UPDATE SET value = '99'")
        proc, _ = start(self.pg.url)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn("newer than this gateway knows", proc.stderr)
        self.assertEqual(self.pg.psql("SELECT value FROM meta WHERE key='schema_version'"), [["99"]])

    def test_a_password_in_the_store_url_is_never_logged(self):
        # Trust authentication ignores the password: the point is that it is never printed.
        url = self.pg.url.replace("postgres@", "postgres:s3cret@")
        gw = Gateway("--store", url, "--instance", "east").start()
        self.gw = gw
        self.assertEqual(gw.stop(), 0)
        self.assertFalse([line for line in gw.log if "s3cret" in line], gw.log)
        self.assertTrue(any("postgres:***@" in line for line in gw.log), gw.log)

    async def test_a_database_of_the_first_version_migrates_and_keeps_its_history(self):
        with open(os.path.join(os.path.dirname(__file__), "fixtures", "pg_schema_v1.sql")) as f:
            self.pg.psql(f.read())
        gw = self.gateway("west")
        self.assertTrue(any("schema migrated from version 1 to 2" in line for line in gw.log), gw.log)
        self.assertEqual(self.pg.psql("SELECT value FROM meta WHERE key='schema_version'"), [["2"]])
        c = await gw.connect()
        entries = (await c.result("session.history", session_id="sold"))["entries"]
        self.assertEqual([e["output"] for e in entries], ["one"])
        r = await c.result("session.resume", session_id="sold")
        done = await c.result("slash.exec", session_id=r["session_id"], command="/echo two")
        self.assertEqual(done["seq"], 2)
        await c.close()

    def test_a_store_url_without_an_instance_is_a_usage_error(self):
        proc = subprocess.run([GATEWAY, "--store", self.pg.url, "--state-dir", tempfile.mkdtemp()],
                              capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertIn("--instance", proc.stderr)


class LeaseTest(ClusterTest):
    """Instance leases (docs/DESIGN.md rule 15), with a 2-second lease."""
    lease = LEASE

    def ends(self, session_id):
        return self.pg.psql(f"SELECT COALESCE(end_reason, '') FROM sessions WHERE session_id = '{session_id}'")

    async def test_a_session_live_elsewhere_is_refused_with_its_owner_then_taken_over_once_it_is_lost(self):
        east, west = self.gateway("east"), self.gateway("west")
        ce = await east.connect()
        s1 = await ce.result("session.create", close_on_disconnect=False)
        s2 = await ce.result("session.create", close_on_disconnect=False)
        r = await ce.result("slash.exec", session_id=s1["session_id"], command="/echo before")
        self.assertEqual(r["seq"], 1)
        cw = await west.connect()
        msg = await cw.call("session.resume", session_id=s1["session_id"])
        self.assertEqual(msg["error"]["code"], SESSION_ELSEWHERE, msg)
        self.assertEqual(msg["error"]["data"]["instance"], "east", "the error names the owner")

        east.stop(signal.SIGKILL)  # the host is gone: no restart
        msg = await cw.call("session.resume", session_id=s1["session_id"])
        self.assertEqual(msg["error"]["code"], SESSION_ELSEWHERE, "its lease is still current")
        t = time.monotonic()
        while True:
            msg = await cw.call("session.resume", session_id=s1["session_id"])
            if "result" in msg or time.monotonic() - t > 10:
                break
            self.assertEqual(msg["error"]["code"], SESSION_ELSEWHERE, msg)
            await asyncio.sleep(0.2)
        taken = msg["result"]
        self.assertEqual(taken["claimed_from"], "east")
        r = await cw.result("slash.exec", session_id=taken["session_id"], command="/echo after")
        self.assertEqual(r["seq"], 2, "the history continues, nothing acknowledged lost")
        entries = (await cw.result("session.history", session_id=taken["session_id"]))["entries"]
        self.assertEqual([e["output"] for e in entries], ["before", "after"])
        # Every session of the lost instance is recorded ended once, the unresumed one too.
        self.assertEqual(self.ends(s1["session_id"]), [["instance_lost"]])
        self.assertEqual(self.ends(s2["session_id"]), [["instance_lost"]])
        again = await cw.call("session.resume", session_id=s1["session_id"])
        self.assertEqual(again["result"]["session_id"], taken["session_id"], "resumed where it lives now")
        await cw.close()

    async def test_two_gateways_racing_for_a_lost_session_take_it_over_exactly_once(self):
        east = self.gateway("east")
        ce = await east.connect()
        s = await ce.result("session.create", close_on_disconnect=False)
        await ce.result("slash.exec", session_id=s["session_id"], command="/echo x")
        east.stop(signal.SIGKILL)
        racers = [self.gateway("west"), self.gateway("north")]
        clients = [await gw.connect() for gw in racers]
        await asyncio.sleep(2.2)  # the lease has lapsed
        replies = await asyncio.gather(*(c.call("session.resume", session_id=s["session_id"]) for c in clients))
        won = [r for r in replies if "result" in r]
        lost = [r for r in replies if "error" in r]
        self.assertEqual(len(won), 1, replies)
        self.assertEqual(lost[0]["error"]["code"], SESSION_ELSEWHERE, replies)
        winner = "west" if "result" in replies[0] else "north"
        self.assertEqual(lost[0]["error"]["data"]["instance"], winner)
        open_rows = self.pg.psql(f"SELECT instance FROM sessions WHERE ended_at IS NULL")
        self.assertEqual(open_rows, [[winner]], "one live session for the history, fleet-wide")
        for c in clients:
            await c.close()

    async def test_a_gateway_cut_off_past_its_lease_ends_its_sessions(self):
        east, west = self.gateway("east"), self.gateway("west")
        ce = await east.connect()
        s = await ce.result("session.create", close_on_disconnect=False)
        await ce.result("slash.exec", session_id=s["session_id"], command="/echo mine")
        worker = (await ce.result("session.active_list"))["sessions"][0]["worker_pid"]
        self.assertIn("lifeline_lease_current 1", http_get(east.port, "/metrics"))
        os.kill(east.pid, signal.SIGSTOP)  # a partition: east neither renews nor serves
        cw = await west.connect()
        t = time.monotonic()
        while True:
            msg = await cw.call("session.resume", session_id=s["session_id"])
            if "result" in msg or time.monotonic() - t > 10:
                break
            await asyncio.sleep(0.2)
        self.assertIn("result", msg, msg)
        os.kill(east.pid, signal.SIGCONT)  # back: it must find its lease gone and stop
        closed = lambda: [e for e in ce.events if e.get("type") == "session.closed"]  # noqa: E731
        self.assertTrue(await until(lambda: closed(), 5), ce.events)
        self.assertEqual(closed()[0]["payload"]["reason"], "lease_lost")
        self.assertTrue(await until(lambda: not alive(worker), 5), "its worker is gone")
        msg = await ce.call("slash.exec", session_id=s["session_id"], command="/echo still?")
        self.assertIn("error", msg, "east serves the session no more")
        self.assertEqual(self.ends(s["session_id"]), [["instance_lost"]], "ended once, by the taker")
        self.assertTrue(await until(lambda: any("lease" in line for line in east.log), 5))
        # It serves again under a fresh lease: new sessions work.
        self.assertTrue(await until(lambda: any("lease of instance east held" in line
                                                for line in east.log[-20:]), 5), east.log)
        fresh = await ce.result("session.create")
        r = await ce.result("slash.exec", session_id=fresh["session_id"], command="/echo new")
        self.assertTrue(r["ok"])
        await ce.close()
        await cw.close()

    def test_a_second_gateway_under_a_held_instance_name_is_refused(self):
        self.gateway("east")
        proc = subprocess.run([GATEWAY, "--listen", "127.0.0.1:0", "--state-dir", tempfile.mkdtemp(),
                               "--store", self.pg.url, "--instance", "east", *LEASE],
                              capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn("is held by another gateway", proc.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
