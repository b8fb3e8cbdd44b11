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

from gateway_harness import GATEWAY, Gateway, ShowsGatewayLog, b64, sanitized_build, until, wait_until

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

    # --state-dir /tmp is the case above (a root-owned sticky 1777 dir); the test does not
    # point a gateway at the real /tmp: a gateway with the old bug would chmod it 0700.

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


def http(port, method, path, headers=(), body=b""):
    """One raw HTTP request; returns (status, headers as a lower-case dict, body)."""
    import socket
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {len(body)}\r\n"
    head += "".join(f"{h}\r\n" for h in headers) + "\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(head.encode() + body)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
            if data.startswith(b"HTTP/1.1 101") and b"\r\n\r\n" in data:
                break  # a WebSocket now: nothing more to read
    text = data.decode(errors="replace")
    top, _, rest = text.partition("\r\n\r\n")
    lines = top.split("\r\n")
    fields = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        fields.setdefault(k.strip().lower(), []).append(v.strip())
    return int(lines[0].split()[1]), fields, rest


UPGRADE = ["Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
           "Sec-WebSocket-Version: 13"]


def upgrade(port, extra=()):
    return http(port, "GET", "/ws", [*UPGRADE, *extra])[0]


class LoginTest(ShowsGatewayLog, unittest.TestCase):
    def setUp(self):
        self.gw = Gateway().start()
        self.addCleanup(self.gw.stop)
        self.port = self.gw.port
        self.origin = f"Origin: http://127.0.0.1:{self.port}"

    def test_the_token_in_a_page_url_sets_no_cookie(self):
        status, fields, _ = http(self.port, "GET", f"/?token={self.gw.token}")
        self.assertEqual(status, 200)
        self.assertNotIn("set-cookie", fields)

    def test_post_login_sets_a_per_gateway_httponly_cookie_not_cached(self):
        status, fields, _ = http(self.port, "POST", "/login", [self.origin], self.gw.token.encode())
        self.assertEqual(status, 204)
        cookie = fields["set-cookie"][0]
        self.assertTrue(cookie.startswith(f"lifeline_{self.port}={self.gw.token};"), cookie)
        for attribute in ("HttpOnly", "SameSite=Strict", "Path=/"):
            self.assertIn(attribute, cookie)
        self.assertNotIn("Secure", cookie)
        self.assertEqual(fields["cache-control"], ["no-store"])
        # Behind a TLS-terminating proxy on this host, the cookie is Secure.
        _, fields, _ = http(self.port, "POST", "/login", [self.origin, "X-Forwarded-Proto: https"],
                            self.gw.token.encode())
        self.assertIn("Secure", fields["set-cookie"][0])
        # GET /login says whether the cookie is a valid sign-in.
        good = f"Cookie: lifeline_{self.port}={self.gw.token}"
        self.assertEqual(http(self.port, "GET", "/login", [good])[0], 204)
        self.assertEqual(http(self.port, "GET", "/login")[0], 401)

    def test_post_login_refuses_foreign_or_missing_origins_big_bodies_and_wrong_tokens(self):
        token = self.gw.token.encode()
        self.assertEqual(http(self.port, "POST", "/login", [], token)[0], 403)
        self.assertEqual(http(self.port, "POST", "/login", ["Origin: http://evil.example"], token)[0], 403)
        self.assertEqual(http(self.port, "POST", "/login", [self.origin], b"x" * 2000)[0], 413)
        status, fields, _ = http(self.port, "POST", "/login", [self.origin], b"not-the-token-at-all")
        self.assertEqual(status, 401)
        self.assertNotIn("set-cookie", fields)
        self.assertEqual(http(self.port, "PUT", "/login", [self.origin], token)[0], 405)

    def test_the_old_cookie_name_and_a_planted_decoy_do_not_lock_anyone_out(self):
        port, token = self.port, self.gw.token
        self.assertEqual(upgrade(port, [f"Cookie: lifeline_token={token}"]), 401, "the shared name is gone")
        # A page on another port planted a bogus value of our cookie: the real one still works.
        self.assertEqual(upgrade(port, [f"Cookie: lifeline_{port}=planted; lifeline_{port}={token}"]), 101)
        self.assertEqual(upgrade(port, [f"Cookie: lifeline_{port}=planted", f"Cookie: lifeline_{port}={token}"]),
                         101)
        # Only the first four values are compared.
        decoys = "; ".join(f"lifeline_{port}=decoy{i}" for i in range(4))
        self.assertEqual(upgrade(port, [f"Cookie: {decoys}; lifeline_{port}={token}"]), 401)

    def test_guessing_is_throttled_per_address_and_the_right_token_works_again(self):
        port = self.port
        statuses = [upgrade(port, ["Authorization: Bearer wrong-guess-number-" + str(i)]) for i in range(30)]
        self.assertEqual(statuses[:20], [401] * 20, statuses)
        self.assertIn(429, statuses[20:])
        status, fields, _ = http(port, "GET", "/ws", [*UPGRADE, "Authorization: Bearer another-wrong-guess"])
        self.assertEqual(status, 429)
        retry = int(fields["retry-after"][0])
        self.assertGreaterEqual(retry, 1)
        self.assertTrue(any("refused a /ws upgrade from 127.0.0.1" in l for l in self.gw.log), self.gw.log[-5:])
        # No permanent lockout: within seconds, the right token is admitted again.
        t0 = time.monotonic()
        ok = wait_until(lambda: upgrade(port, [f"Authorization: Bearer {self.gw.token}"]) == 101, 10, 0.25)
        self.assertTrue(ok)
        print(f"\nthe right token was admitted again {time.monotonic() - t0:.2f} s after the throttle")


class InstanceCookieTest(unittest.TestCase):
    def test_instance_names_the_cookie(self):
        gw = Gateway("--instance", "gw a/1").start()
        self.addCleanup(gw.stop)
        _, fields, _ = http(gw.port, "POST", "/login", [f"Origin: http://127.0.0.1:{gw.port}"], gw.token.encode())
        self.assertTrue(fields["set-cookie"][0].startswith("lifeline_gw_a_1="), fields["set-cookie"])


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(next(line for line in f if line.startswith("VmRSS:")).split()[1])


class InputBoundTest(ShowsGatewayLog, unittest.IsolatedAsyncioTestCase):
    async def test_a_shell_that_does_not_read_cannot_make_the_gateway_hold_its_input(self):
        # docs/DESIGN.md rule 12: a terminal whose program never reads stdin. Before the
        # bound, 100 writes of 780 KB grew the gateway by 83 MiB.
        # Raw mode: the tty's input buffer fills at 4 KiB and then holds (a canonical
        # tty would discard an endless line instead, and let the writes through).
        root = scratch()
        self.addCleanup(shutil.rmtree, root, True)
        shell = os.path.join(root, "no-reader")
        with open(shell, "w") as f:
            f.write("#!/bin/sh\nstty raw -echo\nexec sleep 600\n")
        os.chmod(shell, 0o755)
        self.gw = gw = Gateway("--pty-cmd", shell).start()
        try:
            c = await gw.connect()
            sid = (await c.result("session.create"))["session_id"]
            pty = (await c.result("pty.open", session_id=sid, cols=80, rows=24))["pty_id"]
            chunk = b64("x" * 780_000)
            await c.result("pty.write", pty_id=pty, data=b64("warm-up"))
            await asyncio.sleep(0.5)  # stty has run
            before = rss_kib(gw.pid)
            codes = []
            for _ in range(100):
                r = await c.call("pty.write", pty_id=pty, data=chunk)
                codes.append(r.get("error", {}).get("code", 0))
            grown = rss_kib(gw.pid) - before
            print(f"\n100 writes of 780 KB to a shell that does not read: gateway RSS +{grown} KiB, "
                  f"{codes.count(0)} accepted, {codes.count(4291)} refused (4291)")
            self.assertIn(4291, codes)
            self.assertLessEqual(codes.count(0), 2, "more was taken than the 1 MiB bound holds")
            self.assertEqual(set(codes) - {0, 4291}, set())
            if not sanitized_build():  # ASan's quarantine keeps freed memory resident
                self.assertLess(grown, 8 * 1024)
            # The session still works, and the refusal was whole: nothing half-written.
            await c.result("slash.exec", session_id=sid, command="/echo alive")
            await c.close()
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

    async def test_a_fault_line_removed_from_the_env_file_turns_faults_off_wildcards_too(self):
        root = scratch()
        self.addCleanup(shutil.rmtree, root, True)
        env_file = os.path.join(root, "lifeline.env")
        with open(env_file, "w") as f:
            f.write("LIFELINE_FAULTS=lifeline/store/*\n")
        # The inherited environment says the same: the file must win on reload.
        self.gw = gw = Gateway("--env-file", env_file, env={"LIFELINE_FAULTS": "lifeline/store/*"}).start()
        try:
            c = await gw.connect()
            sid = (await c.result("session.create"))["session_id"]
            r = await c.call("slash.exec", session_id=sid, command="/echo lost")
            self.assertEqual(r.get("error", {}).get("code"), 5033, r)  # no entry can be stored
            with open(env_file, "w") as f:
                f.write("LIFELINE_MAX_SESSIONS=5\n")
            gw.proc.send_signal(signal.SIGHUP)
            self.assertTrue(await until(lambda: any("fault injection off" in l for l in gw.log), 5), gw.log[-5:])
            out = await c.result("slash.exec", session_id=sid, command="/echo stored")
            self.assertTrue(out["ok"])
            await c.close()
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
