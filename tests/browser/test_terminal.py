"""The browser terminal (xterm.js) against a real gateway and a real shell: escape
sequences, colours, full-screen programs, resize, reattach with replay after a reload,
wide characters, bulk output, bracketed paste, and a taken-over tab that can no longer
type. Skipped, saying why, when Chromium is missing.

LIFELINE_SCREENSHOT=PATH saves the page with vi open in a terminal (README's picture)."""
import asyncio
import os
import pty
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from gateway_harness import ShowsGatewayLog, wait_until  # noqa: E402
from cdp import CHROMIUM  # noqa: E402
from page import PageHarness, SCREEN  # noqa: E402

VI = "/usr/bin/vi" if os.access("/usr/bin/vi", os.X_OK) else None


@unittest.skipUnless(CHROMIUM, "chromium is not installed (apt-get install chromium): no browser tests")
class TerminalTest(PageHarness, ShowsGatewayLog, unittest.IsolatedAsyncioTestCase):
    async def start_terminal(self, keep=False, title=None):
        await self.login()
        sid = await self.create_session(keep=keep, title=title)
        await self.open_terminal()
        return sid

    async def test_output_continues_after_escapes_a_plain_renderer_choked_on(self):
        await self.start_terminal()
        # ESC ( B (what tput sgr0 ends with), ESC 7 / ESC 8, ESC = / ESC >.
        await self.tab.type("printf '\\033(B\\0337\\0338\\033=\\033>'; tput sgr0; echo after-$((40+2))\n")
        await self.until_screen_has_line("after-42")
        await self.tab.type("echo still-$((50+5))\n")
        await self.until_screen_has_line("still-55")

    async def test_sgr_31_is_drawn_red(self):
        await self.start_terminal()
        await self.tab.type("printf '\\033[31m%s\\033[0m\\n' red-$((3*3))\n")
        await self.until_screen_has_line("red-9")
        color = await self.tab.eval(
            "(() => { const spans = [...document.querySelectorAll('.term .xterm-rows span')]"
            ".filter(s => s.textContent.includes('red-9') && !s.textContent.includes('$'));"
            " return spans.length ? getComputedStyle(spans[0]).color : null; })()")
        self.assertIsNotNone(color, await self.screen())
        r, g, b = [int(x) for x in color[color.index("(") + 1:color.index(")")].split(",")[:3]]
        self.assertTrue(r > 150 and g < 100 and b < 100, color)

    @unittest.skipUnless(VI, "vi is not installed")
    async def test_vi_draws_its_screen_and_the_shell_works_after(self):
        await self.login()
        await self.create_session(keep=True, title="vi in the browser")
        await self.run_command("/echo a slash command, and below it a terminal")
        await self.open_terminal()
        await self.tab.type("vi /etc/services\n")
        self.assertTrue(await self.tab.until(f"({SCREEN}).includes('/etc/services') && ({SCREEN}).includes('tcpmux')", 10),
                        await self.screen())
        shot = os.environ.get("LIFELINE_SCREENSHOT")
        if shot:
            await asyncio.sleep(0.3)
            await self.tab.screenshot(shot)
        await self.tab.type(":q\n")
        self.assertTrue(await self.tab.until(f"!({SCREEN}).includes('tcpmux')", 10), await self.screen())
        await self.tab.type("echo back-$((1+1))\n")
        await self.until_screen_has_line("back-2")
        self.assert_only_our_origin()
        await self.assert_no_csp_violation()

    async def test_a_bigger_window_gives_more_rows_and_more_columns(self):
        await self.tab.send("Emulation.setDeviceMetricsOverride", width=900, height=600, deviceScaleFactor=1, mobile=False)
        await self.start_terminal()
        rows1, cols1 = await self.stty_size()
        await self.tab.send("Emulation.setDeviceMetricsOverride", width=1400, height=1000, deviceScaleFactor=1, mobile=False)
        ok = await self.tab.until(f"document.querySelector('[data-testid=terminal]').xterm.cols > {cols1}", 5)
        self.assertTrue(ok, "the terminal did not grow with the window")
        await asyncio.sleep(0.2)
        rows2, cols2 = await self.stty_size()
        self.assertGreater(rows2, rows1)
        self.assertGreater(cols2, cols1)
        # What the program sees is what the page shows.
        self.assertEqual(cols2, await self.tab.eval("document.querySelector('[data-testid=terminal]').xterm.cols"))

    async def reload(self):
        await self.tab.send("Page.reload")
        await asyncio.sleep(0.2)
        self.assertTrue(await self.tab.until("document.body.dataset.state === 'connected'", 10))
        self.assertTrue(await self.tab.until("document.querySelectorAll('.term[data-pty-id]').length === 1", 10),
                        await self.tab.eval("document.body.innerText"))

    async def test_a_reload_reattaches_the_kept_terminal_with_its_output(self):
        await self.start_terminal(keep=True)
        await self.tab.type("echo before-$((7*6))\n")
        await self.until_screen_has_line("before-42")
        await self.reload()
        await self.until_screen_has_line("before-42")
        await self.focus_terminal()
        await self.tab.type("echo after-$((7*7))\n")
        await self.until_screen_has_line("after-49")
        # Drawn once: the replay and the live output do not overlap.
        self.assertEqual((await self.screen()).count("before-42\n"), 1, await self.screen())

    @unittest.skipUnless(VI, "vi is not installed")
    async def test_a_reload_while_vi_is_open_shows_vi_and_q_still_works(self):
        await self.start_terminal(keep=True)
        await self.tab.type("vi /etc/services\n")
        self.assertTrue(await self.tab.until(f"({SCREEN}).includes('tcpmux')", 10), await self.screen())
        await self.reload()
        self.assertTrue(await self.tab.until(f"({SCREEN}).includes('tcpmux')", 10), await self.screen())
        await self.focus_terminal()
        await self.tab.type(":q\n")
        self.assertTrue(await self.tab.until(f"!({SCREEN}).includes('tcpmux')", 10), await self.screen())
        await self.tab.type("echo shell-$((2*5))\n")
        await self.until_screen_has_line("shell-10")

    async def test_a_wide_character_takes_two_cells(self):
        await self.start_terminal()
        await self.tab.type("printf 'w%s\\n' $'\\xe4\\xb8\\xad|'\n")
        self.assertTrue(await self.tab.until(f"({SCREEN}).includes('w\u4e2d|')", 10), await self.screen())
        width = await self.tab.eval(
            "(() => { const b = document.querySelector('[data-testid=terminal]').xterm.buffer.active;"
            " for (let y = 0; y < b.length; y++) { const l = b.getLine(y); const t = l.translateToString(true);"
            "  const x = t.indexOf('w\u4e2d|'); if (x >= 0 && !t.includes('printf')) return l.getCell(x + 1).getWidth(); }"
            " return -1; })()")
        self.assertEqual(width, 2)

    async def test_a_hundred_thousand_lines_render(self):
        await self.start_terminal()
        started = time.monotonic()
        await self.tab.type("seq 100000; echo done-$((9*9))\n")
        await self.until_screen_has_line("done-81", timeout=120)
        page_s = time.monotonic() - started
        # The same command in a local PTY, read to its end, for comparison.
        started = time.monotonic()
        pid, fd = pty.fork()
        if pid == 0:
            os.execv("/bin/sh", ["sh", "-c", "seq 100000"])
        while True:
            try:
                if not os.read(fd, 65536):
                    break
            except OSError:
                break
        os.waitpid(pid, 0)
        os.close(fd)
        local_s = time.monotonic() - started
        print(f"\nseq 100000: {page_s:.2f} s in the page, {local_s:.2f} s in a local PTY "
              f"({page_s / max(local_s, 1e-3):.0f}x)", file=sys.stderr)
        self.assertIn("100000", await self.screen())

    async def test_a_multiline_paste_arrives_bracketed_when_the_program_asks(self):
        await self.start_terminal()
        # cat -v shows what reaches the program; the mode is switched on as readline would.
        await self.tab.type("printf '\\033[?2004h'; cat -v\n")
        await asyncio.sleep(0.3)
        await self.tab.eval("document.querySelector('[data-testid=terminal]').xterm.paste('one\\ntwo\\n')")
        self.assertTrue(await self.tab.until(f"({SCREEN}).includes('^[[200~one')", 10), await self.screen())
        self.assertTrue(await self.tab.until(f"({SCREEN}).includes('two') && ({SCREEN}).includes('^[[201~')", 10),
                        await self.screen())

    async def test_a_taken_over_tab_can_no_longer_type(self):
        sid = await self.start_terminal(keep=True)
        other = await self.new_tab()
        await self.login(other)
        # The second tab takes the session (Resume), and gets its terminal with it.
        self.assertTrue(await other.until(f"!!document.querySelector('#sessions li[data-session-id=\"{sid}\"] button')", 10))
        await other.eval(f"document.querySelector('#sessions li[data-session-id=\"{sid}\"] button').click()")
        self.assertTrue(await other.until("document.querySelectorAll('.term[data-pty-id]').length === 1", 10))
        self.assertTrue(await self.tab.until(
            "document.querySelector('.term').dataset.takenOver === 'yes'", 10))
        marker = os.path.join(self.home, "typed-after-takeover")
        await self.focus_terminal()
        await self.tab.type(f"touch {marker}\n")
        await asyncio.sleep(1.0)
        self.assertFalse(os.path.exists(marker), "the taken-over tab's keys reached the shell")
        self.assertIn("Take back", await self.tab.eval("document.getElementById('sessions').innerText"))
        # The new holder types.
        await self.focus_terminal(other)
        await other.type("echo holder-$((4*4))\n")
        await self.until_screen_has_line("holder-16", tab=other)
        await other.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
