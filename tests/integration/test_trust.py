"""docs/DESIGN.md rule 14 and rule 10 against the real gateway: a state dir, token, file or
setting the gateway did not create (or that is malformed) is refused with one line and
the right exit status; nothing of anyone else's is written, chmod'ed or followed.

Run as root (as CI does) for the foreign-owner cases; they are skipped otherwise."""
import asyncio
import os
import shutil
import signal
import stat
import subprocess
import tempfile
import time
import unittest

from gateway_harness import GATEWAY, Gateway, ShowsGatewayLog, b64, until

NOBODY = 65534
GOOD_TOKEN = "operator-chosen-token-0123"


def run_gateway(*args, env=None, timeout=15, cwd=None):
    """Runs a gateway expected to refuse at start; returns (exit status, stderr)."""
    proc = subprocess.run([GATEWAY, "--listen", "127.0.0.1:0", *args], capture_output=True, text=True,
                          timeout=timeout, env=env if env is not None else dict(os.environ), cwd=cwd,
                          stdin=subprocess.DEVNULL)
    return proc.returncode, proc.stderr


def scratch():
    d = tempfile.mkdtemp(prefix="lifeline-trust-")
    return d


class StateDirTest(unittest.TestCase):
    def setUp(self):
        self.root = scratch()
        self.addCleanup(shutil.rmtree, self.root, True)

    @unittest.skipUnless(os.geteuid() == 0, "needs root to make a foreign-owned dir")
    def test_a_foreign_world_writable_dir_and_its_token_are_refused_untouched(self):
        d = os.path.join(self.root, "foreign")
        os.mkdir(d)
        os.chown(d, NOBODY, NOBODY)
        os.chmod(d, 0o777)
        token = os.path.join(d, "token")
        with open(token, "w") as f:
            f.write("attacker-planted-token-value\n")
        os.chown(token, NOBODY, NOBODY)
        os.chmod(token, 0o666)
        rc, err = run_gateway("--state-dir", d)
        self.assertEqual(rc, 1, err)
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertIn(d, err)
        self.assertIn("owned by uid 65534", err)
        with open(token) as f:
            self.assertEqual(f.read(), "attacker-planted-token-value\n", "the token file was written")
        self.assertEqual(stat.S_IMODE(os.stat(d).st_mode), 0o777, "an existing dir was chmod'ed")
        self.assertEqual(sorted(os.listdir(d)), ["token"], "files were created in a foreign dir")

    def test_a_world_writable_dir_of_ours_is_refused_and_never_chmoded(self):
        d = os.path.join(self.root, "open")
        os.mkdir(d)
        os.chmod(d, 0o1777)  # as /tmp
        rc, err = run_gateway("--state-dir", d)
        self.assertEqual(rc, 1, err)
        self.assertIn("writable by its group or by others", err)
        self.assertEqual(stat.S_IMODE(os.stat(d).st_mode), 0o1777)
        self.assertEqual(os.listdir(d), [])

    def test_tmp_itself_is_refused_and_left_as_it_was(self):
        before = stat.S_IMODE(os.stat("/tmp").st_mode)
        rc, err = run_gateway("--state-dir", "/tmp")
        self.assertEqual(rc, 1, err)
        self.assertEqual(stat.S_IMODE(os.stat("/tmp").st_mode), before)

    def test_no_home_and_no_xdg_state_home_is_refused_not_the_current_directory(self):
        cwd = os.path.join(self.root, "cwd")
        os.mkdir(cwd)
        env = {k: v for k, v in os.environ.items() if k not in ("HOME", "XDG_STATE_HOME")}
        rc, err = run_gateway(env=env, cwd=cwd)
        self.assertEqual(rc, 1, err)
        self.assertIn("no state dir", err)
        self.assertEqual(os.listdir(cwd), [], "state was written to the current directory")

    def test_missing_dirs_are_created_0700_and_the_files_0600(self):
        d = os.path.join(self.root, "new", "deeper", "state")
        gw = Gateway(state_dir=d).start()
        try:
            for path in (os.path.join(self.root, "new"), os.path.join(self.root, "new", "deeper"), d):
                self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o700, path)
            for name in ("token", "lock", "lifeline.db"):
                self.assertEqual(stat.S_IMODE(os.stat(os.path.join(d, name)).st_mode), 0o600, name)
            self.assertFalse([n for n in os.listdir(d) if n.startswith("token.new")],
                             "the temporary token file was left behind")
        finally:
            self.assertEqual(gw.stop(), 0)

    def test_planted_links_for_the_lock_and_the_database_are_refused_and_not_followed(self):
        for name in ("lock", "lifeline.db", "lifeline.db-wal"):
            d = os.path.join(self.root, "links-" + name)
            os.mkdir(d, 0o700)
            target = os.path.join(self.root, "victim-" + name)
            os.symlink(target, os.path.join(d, name))
            rc, err = run_gateway("--state-dir", d, "--token", GOOD_TOKEN)
            self.assertEqual(rc, 1, err)
            self.assertIn(f"{name} is a symbolic link", err)
            self.assertFalse(os.path.lexists(target), f"following {name} created {target}")

    def test_a_fifo_at_the_token_path_is_refused_at_once_not_waited_on(self):
        d = os.path.join(self.root, "fifo")
        os.mkdir(d, 0o700)
        os.mkfifo(os.path.join(d, "token"), 0o600)
        t0 = time.monotonic()
        rc, err = run_gateway("--state-dir", d, timeout=10)
        self.assertEqual(rc, 1, err)
        self.assertIn("token is not a regular file", err)
        print(f"\nrefused a FIFO token in {time.monotonic() - t0:.2f} s")

    def test_a_token_file_that_fails_the_rules_is_refused_never_replaced(self):
        cases = {
            "short": ("short\n", 0o600, "at least 16"),
            "readable": ("long-enough-token-value\n", 0o644, "readable or writable by its group"),
            "two-lines": ("long-enough-token-value\nsecond line\n", 0o600, "control"),
        }
        for label, (text, mode, why) in cases.items():
            d = os.path.join(self.root, "tok-" + label)
            os.mkdir(d, 0o700)
            path = os.path.join(d, "token")
            with open(path, "w") as f:
                f.write(text)
            os.chmod(path, mode)
            rc, err = run_gateway("--state-dir", d)
            self.assertEqual(rc, 1, f"{label}: {err}")
            self.assertIn(why, err, label)
            with open(path) as f:
                self.assertEqual(f.read(), text, f"{label}: the token file was changed")

    def test_an_operator_written_token_file_is_used_whole(self):
        d = os.path.join(self.root, "mine")
        os.mkdir(d, 0o700)
        with open(os.path.join(d, "token"), "w") as f:
            f.write(GOOD_TOKEN + "\n")
        os.chmod(os.path.join(d, "token"), 0o600)
        gw = Gateway(state_dir=d).start()
        try:
            self.assertEqual(gw.token, GOOD_TOKEN)

            async def hello():
                c = await gw.connect()
                await c.result("gateway.stats")
                await c.close()
            asyncio.run(hello())
        finally:
            self.assertEqual(gw.stop(), 0)


class TokenTest(unittest.TestCase):
    def setUp(self):
        self.root = scratch()
        self.addCleanup(shutil.rmtree, self.root, True)

    def test_short_operator_tokens_are_usage_errors(self):
        rc, err = run_gateway("--state-dir", self.root, "--token", "short")
        self.assertEqual(rc, 2, err)
        self.assertIn("at least 16", err)
        rc, err = run_gateway("--state-dir", self.root, env=dict(os.environ, LIFELINE_TOKEN="fifteen-bytes.."))
        self.assertEqual(rc, 2, err)
        self.assertIn("LIFELINE_TOKEN", err)
        creds = os.path.join(self.root, "creds")
        os.mkdir(creds, 0o700)
        with open(os.path.join(creds, "token"), "w") as f:
            f.write("tiny\n")
        rc, err = run_gateway("--state-dir", self.root, env=dict(os.environ, CREDENTIALS_DIRECTORY=creds))
        self.assertEqual(rc, 2, err)
        self.assertIn("credential", err)
        self.assertFalse(os.path.exists(os.path.join(self.root, "token")))

    def test_systemd_credential_is_the_token_and_nothing_is_written(self):
        creds = os.path.join(self.root, "creds")
        os.mkdir(creds, 0o700)
        with open(os.path.join(creds, "token"), "w") as f:
            f.write(GOOD_TOKEN + "\n")
        state = os.path.join(self.root, "state")
        # Not the harness: it reads <state-dir>/token, which this gateway must not write.
        proc = subprocess.Popen([GATEWAY, "--listen", "127.0.0.1:0", "--state-dir", state],
                                stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                                env=dict(os.environ, CREDENTIALS_DIRECTORY=creds))
        try:
            url = None
            for line in proc.stderr:
                if line.startswith("listening "):
                    url = line.split()[1]
                    break
            self.assertIsNotNone(url)
            self.assertFalse(os.path.exists(os.path.join(state, "token")))

            async def hello():
                import websockets
                async with websockets.connect(f"{url}?token={GOOD_TOKEN}") as ws:
                    self.assertIn("gateway.ready", await ws.recv())
            asyncio.run(hello())
        finally:
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(10), 0)


class GatewayTrustTest(ShowsGatewayLog, unittest.IsolatedAsyncioTestCase):
    def test_bad_settings_are_one_line_usage_errors(self):
        root = scratch()
        self.addCleanup(shutil.rmtree, root, True)
        for args, env, names in [
            (["--listen", "127.0.0.1:99999"], {}, "--listen"),
            (["--orphan-grace", "abc"], {}, "--orphan-grace"),
            (["--max-sessions", "-5"], {}, "--max-sessions"),
            (["--max-message-bytes", "2305843009213693952"], {}, "--max-message-bytes"),
            (["--listen", "--stdio"], {}, "--listen"),
            ([], {"LIFELINE_ORPHAN_GRACE": "abc"}, "LIFELINE_ORPHAN_GRACE"),
        ]:
            proc = subprocess.run([GATEWAY, "--state-dir", root, *args], capture_output=True, text=True,
                                  timeout=10, env=dict(os.environ, **env), stdin=subprocess.DEVNULL)
            self.assertEqual(proc.returncode, 2, f"{args} {env}: {proc.stderr}")
            self.assertEqual(len(proc.stderr.strip().splitlines()), 1, proc.stderr)
            self.assertIn(names, proc.stderr)
        self.assertFalse(os.path.exists(os.path.join(root, "lifeline.db")), "a refused start opened the store")

    async def test_sighup_with_a_bad_value_keeps_every_old_one(self):
        root = scratch()
        self.addCleanup(shutil.rmtree, root, True)
        env_file = os.path.join(root, "lifeline.env")
        with open(env_file, "w") as f:
            f.write("LIFELINE_MAX_SESSIONS=1\n")
        self.gw = gw = Gateway("--env-file", env_file).start()
        try:
            c = await gw.connect()
            await c.result("session.create")
            with open(env_file, "w") as f:
                f.write("LIFELINE_MAX_SESSIONS=5\nLIFELINE_ORPHAN_GRACE=soon\n")
            gw.proc.send_signal(signal.SIGHUP)
            self.assertTrue(await until(lambda: any("SIGHUP:" in l and "nothing changed" in l for l in gw.log), 5),
                            gw.log[-5:])
            self.assertIn("LIFELINE_ORPHAN_GRACE", [l for l in gw.log if "nothing changed" in l][0])
            self.assertEqual((await c.call("session.create"))["error"]["code"], 4290,
                             "the valid value beside the bad one was applied")
            await c.close()
        finally:
            self.assertEqual(gw.stop(), 0)

    async def test_a_takeover_revokes_the_old_tab_until_it_takes_the_session_back(self):
        self.gw = gw = Gateway().start()
        try:
            a = await gw.connect()
            b = await gw.connect()
            sid = (await a.result("session.create", close_on_disconnect=False))["session_id"]
            pty = (await a.result("pty.open", session_id=sid, cols=80, rows=24))["pty_id"]
            await b.result("session.resume", session_id=sid)
            self.assertTrue(await until(lambda: any(e["type"] == "session.taken_over" for e in a.events), 5))
            # The old tab types a command into the new holder's shell: refused.
            for method, params in [("pty.write", {"pty_id": pty, "data": b64("touch /tmp/x\n")}),
                                   ("pty.resize", {"pty_id": pty, "cols": 10, "rows": 5}),
                                   ("slash.exec", {"session_id": sid, "command": "/echo old tab"}),
                                   ("session.close", {"session_id": sid})]:
                r = await a.call(method, **params)
                self.assertEqual(r.get("error", {}).get("code"), 4009, f"{method}: {r}")
                self.assertEqual(r["error"]["data"]["session_id"], sid)
            self.assertEqual(len((await b.result("session.active_list"))["sessions"]), 1)
            await b.result("pty.write", pty_id=pty, data=b64("echo still-mine\n"))
            # Taking it back works, and revokes the other tab in turn.
            await a.result("session.resume", session_id=sid)
            await a.result("pty.write", pty_id=pty, data=b64("echo back\n"))
            self.assertEqual((await b.call("pty.write", pty_id=pty, data=b64("x")))["error"]["code"], 4009)
            await a.close()
            await b.close()
        finally:
            self.assertEqual(gw.stop(), 0)

    async def test_titles_with_control_or_bidi_characters_are_refused(self):
        self.gw = gw = Gateway().start()
        try:
            c = await gw.connect()
            for title in ("\u202egnp.exe", "a\u2066b", "bell\x07", "esc\x1b[2J"):
                self.assertEqual((await c.call("session.create", title=title))["error"]["code"], -32602, title)
            self.assertEqual((await c.result("session.active_list"))["sessions"], [])
            await c.close()
        finally:
            self.assertEqual(gw.stop(), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
