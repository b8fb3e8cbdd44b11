"""The store's schema versions (docs/DESIGN.md, Durability): a state dir written by the
first release migrates forward at start and keeps its history; a store newer than the
gateway is refused with exit 1."""
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from gateway_harness import GATEWAY, Gateway, ShowsGatewayLog  # noqa: E402

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "schema_v1.sql")
NOW_MS = int(time.time() * 1000)


def old_state_dir(version="1"):
    """A state dir holding a store as the first release left it: one ended session
    with two transcript entries."""
    state = tempfile.mkdtemp(prefix="lifeline-store-")
    old = os.umask(0o077)
    try:
        db = sqlite3.connect(os.path.join(state, "lifeline.db"))
        with open(FIXTURE) as f:
            db.executescript(f.read())
        db.execute("UPDATE meta SET value=? WHERE key='schema_version'", (version,))
        db.execute("INSERT INTO sessions VALUES('sold', 'kold', 'old tab', 1, ?, ?, 'client_close')",
                   (NOW_MS - 1000, NOW_MS - 500))
        for seq, cmd in ((1, "/echo one"), (2, "/echo two")):
            db.execute("INSERT INTO transcript VALUES('kold', ?, ?, ?, 1, ?)",
                       (seq, NOW_MS - 900 + seq, cmd, cmd.split(" ", 1)[1]))
        db.commit()
        db.close()
    finally:
        os.umask(old)
    return state


class SchemaTest(ShowsGatewayLog, unittest.IsolatedAsyncioTestCase):
    async def test_a_store_of_the_first_release_migrates_and_keeps_its_history(self):
        state = old_state_dir()
        self.gw = Gateway("--instance", "east", state_dir=state).start()
        c = await self.gw.connect()
        entries = (await c.result("session.history", session_key="kold"))["entries"]
        self.assertEqual([e["command"] for e in entries], ["/echo one", "/echo two"])
        resumed = await c.result("session.resume", session_id="sold")
        await c.result("slash.exec", session_id=resumed["session_id"], command="/echo three")
        await c.close()
        self.assertEqual(self.gw.stop(), 0)
        self.assertTrue(any("schema migrated from version 1 to 2" in line for line in self.gw.log),
                        self.gw.log)
        db = sqlite3.connect(os.path.join(state, "lifeline.db"))
        self.assertEqual(db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0], "2")
        rows = dict(db.execute("SELECT session_id, instance FROM sessions").fetchall())
        self.assertEqual(rows["sold"], "", "a session of the old release names no instance")
        self.assertEqual(rows[resumed["session_id"]], "east")
        self.assertEqual(db.execute("SELECT COUNT(*) FROM transcript WHERE session_key='kold'").fetchone()[0], 3)
        db.close()
        # Started again, it finds nothing to migrate.
        self.gw = Gateway(state_dir=state).start()
        self.assertEqual(self.gw.stop(), 0)
        self.assertFalse(any("schema migrated" in line for line in self.gw.log), self.gw.log)

    async def test_a_store_named_in_the_state_dir_is_the_one_used(self):
        state = tempfile.mkdtemp(prefix="lifeline-store-")
        self.gw = Gateway("--store", "sqlite:other.db", state_dir=state).start()
        c = await self.gw.connect()
        s = await c.result("session.create")
        await c.result("slash.exec", session_id=s["session_id"], command="/echo here")
        await c.close()
        self.assertEqual(self.gw.stop(), 0)
        self.assertFalse(os.path.exists(os.path.join(state, "lifeline.db")))
        db = sqlite3.connect(os.path.join(state, "other.db"))
        self.assertEqual(db.execute("SELECT text FROM transcript").fetchall(), [("here",)])
        db.close()
        # A path is not a name in the state dir: a usage error.
        proc = subprocess.run([GATEWAY, "--state-dir", state, "--store", "sqlite:/tmp/x.db"],
                              capture_output=True, text=True, timeout=15, stdin=subprocess.DEVNULL)
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertIn("--store", proc.stderr)

    def test_a_store_newer_than_the_gateway_is_refused(self):
        for version, why in (("99", "newer than this gateway knows"), ("x", "not a version number")):
            state = old_state_dir(version)
            proc = subprocess.run([GATEWAY, "--listen", "127.0.0.1:0", "--state-dir", state],
                                  capture_output=True, text=True, timeout=15, stdin=subprocess.DEVNULL)
            self.assertEqual(proc.returncode, 1, proc.stderr)
            self.assertIn(why, proc.stderr)
            db = sqlite3.connect(os.path.join(state, "lifeline.db"))
            self.assertEqual(db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0],
                             version, "a refused store is left as it was")
            db.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
