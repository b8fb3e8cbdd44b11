"""What every browser test does with the gateway's page: start a gateway and Chromium,
sign in, create sessions, run commands, open terminals and read what a terminal shows.

The page's stable hooks (docs/PROTOCOL.md section 6): data-testid new-session, keep,
open-terminal and terminal (the element holding xterm.js's screen), and data-state on
<body>. The xterm.js Terminal of a terminal element is its `.xterm` property, for tests
that read cells (width, colour) rather than text."""
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from gateway_harness import Gateway  # noqa: E402
from cdp import Browser  # noqa: E402

# The visible terminal's screen, one line per row, as xterm.js's DOM renderer draws it.
SCREEN = ("[...document.querySelectorAll('.term:not([hidden]) [data-testid=terminal] .xterm-rows > div')]"
          ".map(d => d.textContent.replace(/\\u00a0/g, ' ')).join('\\n')")


class PageHarness:
    gateway_args = ("--orphan-grace", "30")

    async def asyncSetUp(self):
        # The terminals' shell gets a home of its own: its history and rc files stay here.
        self.home = tempfile.mkdtemp(prefix="lifeline-browser-home-")
        self.gw = Gateway(*self.gateway_args, env={"HOME": self.home}).start()
        self.base = f"http://127.0.0.1:{self.gw.port}"
        self.browser = await Browser().start()
        self.tab = await self.new_tab()

    async def new_tab(self):
        """A tab that records every Content-Security-Policy violation of the page."""
        tab = await self.browser.new_tab()
        await tab.send("Page.addScriptToEvaluateOnNewDocument", source=(
            "window.cspViolations = [];"
            "document.addEventListener('securitypolicyviolation',"
            " (e) => window.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));"))
        return tab

    async def asyncTearDown(self):
        await self.browser.close()
        self.gw.stop()
        shutil.rmtree(self.home, ignore_errors=True)

    async def login(self, tab=None):
        tab = tab or self.tab
        await tab.goto(f"{self.base}/#token={self.gw.token}")
        self.assertTrue(await tab.until("document.body.dataset.state === 'connected'", 10),
                        await tab.eval("document.body.dataset.state + ' ' + location.href"))

    async def create_session(self, keep=False, title=None, tab=None):
        t = tab or self.tab
        if title:
            await t.eval(f"document.getElementById('new-title').value = {title!r}")
        await t.eval(f"document.querySelector('[data-testid=keep]').checked = {'true' if keep else 'false'}")
        before = await t.eval("document.querySelectorAll('#sessions li').length")
        await t.eval("document.querySelector('[data-testid=new-session]').click()")
        self.assertTrue(await t.until(f"document.querySelectorAll('#sessions li').length > {before}", 5))
        return await t.eval("document.querySelector('#sessions li.selected').dataset.sessionId")

    async def run_command(self, command):
        t = self.tab
        n = await t.eval("document.querySelectorAll('#transcript li').length")
        await t.eval(f"document.getElementById('command').value = {command!r}")
        await t.eval("document.getElementById('exec-form').requestSubmit()")
        self.assertTrue(await t.until(f"document.querySelectorAll('#transcript li').length > {n}", 10))

    async def open_terminal(self, tab=None):
        t = tab or self.tab
        before = await t.eval("document.querySelectorAll('.term').length")
        await t.eval("document.querySelector('[data-testid=open-terminal]').click()")
        self.assertTrue(await t.until(
            f"document.querySelectorAll('.term[data-pty-id]').length > {before}", 10))
        # A person types after the prompt: wait for the shell's first output.
        self.assertTrue(await t.until(f"({SCREEN}).trim().length > 0", 10), await self.screen(t))
        await self.focus_terminal(t)

    async def focus_terminal(self, tab=None):
        t = tab or self.tab
        await t.eval("document.querySelector('.term:not([hidden]) .xterm-helper-textarea').focus()")

    async def screen(self, tab=None):
        return await (tab or self.tab).eval(SCREEN)

    async def until_screen_has_line(self, text, timeout=10, tab=None):
        """Some row of the screen, stripped, is exactly `text` (so that the echo of the
        command that printed it does not count)."""
        t = tab or self.tab
        ok = await t.until(f"({SCREEN}).split('\\n').some(l => l.trim() === {text!r})", timeout)
        self.assertTrue(ok, f"no line {text!r} on the screen:\n" + await self.screen(t))

    async def stty_size(self, tab=None):
        """Asks the shell for its terminal's size, as the program in the PTY sees it."""
        t = tab or self.tab
        self._sizes = getattr(self, "_sizes", 0) + 1
        marker = f"size-{self._sizes}x"
        await t.type(f"echo {marker[:5]}\"{marker[5:]}\" $(stty size)\n")
        ok = await t.until(f"({SCREEN}).split('\\n').some(l => l.trim().startsWith({marker + ' '!r}))", 10)
        self.assertTrue(ok, await self.screen(t))
        for line in (await self.screen(t)).split("\n"):
            if line.strip().startswith(marker + " "):
                rows, cols = line.split()[1:3]
                return int(rows), int(cols)
        raise AssertionError("unreachable")

    def assert_only_our_origin(self, tab=None):
        t = tab or self.tab
        foreign = [u for u in t.requests
                   if not (u.startswith(self.base + "/") or u.startswith(f"ws://127.0.0.1:{self.gw.port}/")
                           or u.startswith("data:") or u == "about:blank")]
        self.assertEqual(foreign, [], "the page loaded something from outside the gateway")

    async def assert_no_csp_violation(self, tab=None):
        self.assertEqual(await (tab or self.tab).eval("window.cspViolations"), [])
