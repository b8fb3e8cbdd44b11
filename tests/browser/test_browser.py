"""The gateway's page in a real browser: Debian's headless Chromium, driven through the
DevTools protocol (tests/browser/cdp.py), against a real gateway: sign-in, sessions,
slash commands, reload and reaping. The terminal itself: test_terminal.py.

Skipped, with the reason printed, when Chromium is not installed.
"""
import asyncio
import http.server
import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
sys.path.insert(0, os.path.dirname(__file__))
from gateway_harness import ShowsGatewayLog, alive, sleepers, wait_until  # noqa: E402
from cdp import CHROMIUM  # noqa: E402
from page import PageHarness  # noqa: E402

import psutil  # noqa: E402


@unittest.skipUnless(CHROMIUM, "chromium is not installed (apt-get install chromium): no browser tests")
class BrowserTest(PageHarness, ShowsGatewayLog, unittest.IsolatedAsyncioTestCase):
    async def test_login_moves_the_token_into_an_httponly_cookie(self):
        await self.tab.goto(self.base + "/")
        self.assertEqual(await self.tab.eval("document.body.dataset.state"), "login")
        await self.login()
        # The fragment is gone from the address bar, and no URL the gateway saw held it.
        self.assertEqual(await self.tab.eval("location.href"), self.base + "/")
        self.assertFalse([u for u in self.tab.requests if self.gw.token in u], self.tab.requests)
        name = f"lifeline_{self.gw.port}"  # one cookie per gateway: cookies ignore ports
        cookies = {c["name"]: c for c in await self.tab.cookies()}
        self.assertIn(name, cookies)
        self.assertTrue(cookies[name]["httpOnly"])
        self.assertEqual(cookies[name]["sameSite"], "Strict")
        self.assertEqual(cookies[name]["path"], "/")
        self.assertNotIn(name, await self.tab.eval("document.cookie"))
        # A wrong token: no cookie, back to the sign-in form, and it says why.
        other = await self.browser.new_tab()
        await other.send("Network.clearBrowserCookies")
        await other.goto(f"{self.base}/#token=wrong")
        self.assertTrue(await other.until("document.body.dataset.state === 'login'", 5))
        self.assertIn("refused", await other.eval("document.getElementById('login-message').textContent"))
        self.assert_only_our_origin()

    async def test_terminal_and_slash_command(self):
        await self.login()
        await self.create_session(title="browser")
        await self.run_command("/echo x")
        self.assertTrue(await self.tab.until(
            "[...document.querySelectorAll('#transcript li .out')].some(e => e.textContent === 'x')", 5))
        await self.open_terminal()
        await self.tab.type("echo hi-$((6*7))\n")
        await self.until_screen_has_line("hi-42")
        self.assert_only_our_origin()

    async def test_closing_the_tab_and_killing_the_browser_reaps_the_terminal_tree(self):
        await self.login()
        sid = await self.create_session(keep=False)
        await self.open_terminal()
        await self.tab.type("sleep 1201 &\n")
        await self.tab.type("setsid sleep 1202 &\n")
        await self.tab.type("(setsid sleep 1203 &) &\n")
        self.assertTrue(wait_until(lambda: len(sleepers(["1201", "1202", "1203"])) == 3, 10))
        pids = sleepers(["1201", "1202", "1203"])
        await self.tab.close()
        self.browser.kill()
        gone = wait_until(lambda: not any(alive(p) for p in pids.values()) and not self.gw.descendants(), 8)
        self.assertTrue(gone, f"still alive: {[p for p in pids.values() if alive(p)]}")
        self.assertTrue(any(f"session {sid} closed: ws_disconnect" in line for line in self.gw.log))

    async def test_reload_resumes_a_kept_session_with_its_history(self):
        await self.login()
        sid = await self.create_session(keep=True, title="kept")
        await self.run_command("/echo before-reload")
        await self.tab.send("Page.reload")
        await asyncio.sleep(0.2)
        self.assertTrue(await self.tab.until("document.body.dataset.state === 'connected'", 10))
        self.assertTrue(await self.tab.until(
            f"document.querySelector('#sessions li.selected')?.dataset.sessionId === {sid!r}", 10),
            await self.tab.eval("document.getElementById('sessions').innerText"))
        self.assertTrue(await self.tab.until(
            "[...document.querySelectorAll('#transcript li .out')].some(e => e.textContent === 'before-reload')", 10))
        # Still the one session, now held by the new page's connection.
        self.assertEqual(await self.tab.eval("document.querySelectorAll('#sessions li').length"), 1)

    async def test_a_page_of_another_origin_cannot_open_the_socket(self):
        await self.login()  # the browser now holds the cookie
        page = (f"<script>const s = new WebSocket('ws://127.0.0.1:{self.gw.port}/ws');"
                "s.onopen = () => document.title = 'OPEN';"
                "s.onerror = () => document.title = 'REFUSED';</script>").encode()

        class Evil(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, *args):
                pass

        evil = http.server.HTTPServer(("127.0.0.1", 0), Evil)
        threading.Thread(target=evil.serve_forever, daemon=True).start()
        try:
            evil_origin = f"http://127.0.0.1:{evil.server_address[1]}"
            self.tab.ws_handshakes.clear()  # the gateway's own page had its socket accepted
            await self.tab.goto(evil_origin + "/")
            self.assertTrue(await self.tab.until("document.title !== ''", 10))
            self.assertEqual(await self.tab.eval("document.title"), "REFUSED")
            # The browser saw the refusal (403), and the gateway says why: the origin.
            await asyncio.sleep(0.2)
            statuses = [status for url, status in self.tab.ws_handshakes]
            self.assertNotIn(101, statuses)
            if statuses:
                self.assertEqual(statuses, [403])
            self.assertTrue(any(f"origin {evil_origin} not allowed" in line for line in self.gw.log),
                            self.gw.log[-5:])
        finally:
            evil.shutdown()


if __name__ == "__main__":
    unittest.main(verbosity=2)
