"""Integration tests for the holes a hostile probe found (issue 12): terminals that
outlived a SIGKILLed gateway, admission edges, byte bounds, slow peers, fd exhaustion.

Each test measures the real thing (processes via psutil and /proc, the gateway's fds,
its log size), and bounds liveness generously.
"""
import asyncio
import base64
import os
import signal
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from gateway_harness import Gateway, alive, b64, wait_until  # noqa: E402

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


def sleepers(marks):
    """pid of each `sleep <mark>` alive now (zombies count)."""
    found = {}
    for p in psutil.process_iter(["cmdline"]):
        cmd = p.info["cmdline"] or []
        if len(cmd) == 2 and cmd[0].endswith("sleep") and cmd[1] in marks:
            found[cmd[1]] = p.pid
    return found


class HardeningTest(unittest.IsolatedAsyncioTestCase):
    gateway_args = ("--orphan-grace", "30", "--ping-interval", "1", "--ping-timeout", "1")
    env = None

    async def asyncSetUp(self):
        self.gw = Gateway(*self.gateway_args, env=self.env).start()

    async def asyncTearDown(self):
        self.gw.stop()

    def run(self, result=None):
        failures = len(result.failures) + len(result.errors) if result else 0
        out = super().run(result)
        if result and len(result.failures) + len(result.errors) > failures and hasattr(self, "gw"):
            print("\n--- gateway log ---\n" + "\n".join(self.gw.log[-60:]), file=sys.stderr)
        return out

    async def until(self, predicate, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            await asyncio.sleep(0.02)
        return predicate()

    def output(self, client, pty):
        return "".join(base64.b64decode(e["payload"]["data"]).decode(errors="replace")
                       for e in client.events
                       if e.get("type") == "pty.output" and e["payload"]["pty_id"] == pty)

    async def stubborn_terminal(self, client, sid):
        """Opens a terminal and starts every kind of stubborn background process in it."""
        pty = (await client.result("pty.open", session_id=sid, cols=80, rows=24))["pty_id"]
        self.assertTrue(await self.until(lambda: self.output(client, pty), 10), "no prompt")
        script = "".join(cmd + "\n" for _, cmd in STUBBORN) + "echo started-$((40+2))\n"
        await client.result("pty.write", pty_id=pty, data=b64(script))
        self.assertTrue(await self.until(lambda: "started-42" in self.output(client, pty), 10))
        marks = [cmd.split("sleep ")[1].split()[0].rstrip(")") for _, cmd in STUBBORN]
        self.assertTrue(wait_until(lambda: len(sleepers(marks)) == len(marks), 5),
                        f"only {sleepers(marks)} of {marks} started")
        return pty, sleepers(marks)

    def assert_gone(self, pids, timeout):
        ok = wait_until(lambda: not any(alive(p) for p in pids.values()), timeout)
        left = {m: p for m, p in pids.items() if alive(p)}
        self.assertTrue(ok, f"still alive {timeout}s after the gateway's SIGKILL: {left}")

    async def test_terminal_tree_dies_with_a_sigkilled_gateway(self):
        # DESIGN.md rule 7: a terminal's supervisor holds the lifeline; on its EOF it kills
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
        self.assertTrue(await self.until(
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
        self.assertTrue(await self.until(lambda: self.output(c, pty), 10))
        # Move a sleeper into the gateway's parent cgroup (as root may), then SIGKILL the
        # gateway: only the subreaper's descendant walk can find it.
        parent = os.path.dirname(open(f"/proc/{self.gw.pid}/cgroup").read().split("::")[1].strip())
        procs = f"/sys/fs/cgroup{parent}/cgroup.procs"
        if not os.access(procs, os.W_OK):
            self.skipTest(f"{procs} is not writable: a process cannot leave its cgroup here")
        await c.result("pty.write", pty_id=pty,
                       data=b64(f"(echo $BASHPID > {procs}; exec sleep 1106) & echo moved-$((1+1))\n"))
        self.assertTrue(await self.until(lambda: "moved-2" in self.output(c, pty), 10))
        self.assertTrue(wait_until(lambda: "1106" in sleepers(["1106"]), 5))
        pids = sleepers(["1106"])
        cg = open(f"/proc/{pids['1106']}/cgroup").read()
        self.assertNotIn("lifeline-", cg, "the sleeper did not leave its cgroup")
        self.gw.proc.kill()
        self.gw.proc.wait()
        self.assert_gone(pids, 5)


class HardeningWithoutCgroupsTest(HardeningTest):
    env = {"LIFELINE_CGROUPS": "off"}

    async def test_a_process_that_left_its_cgroup_still_dies(self):
        self.skipTest("containment is off: there is no cgroup to leave")


if __name__ == "__main__":
    unittest.main(verbosity=2)
