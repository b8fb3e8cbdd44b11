"""A small Chrome DevTools Protocol client over python3-websockets: enough to drive
Debian's headless Chromium against the gateway's page (navigate, evaluate, type, read
cookies, watch the network, screenshot)."""
import asyncio
import base64
import json
import os
import re
import shutil
import subprocess
import tempfile

import websockets

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class Browser:
    """Headless Chromium with a fresh profile, closed network habits (no background
    traffic: this machine's network is closed, and a test must see only our requests)."""

    async def start(self):
        self.profile = tempfile.mkdtemp(prefix="lifeline-chromium-")
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--disable-extensions",
             "--disable-features=Translate,MediaRouter,OptimizationHints",
             "--window-size=1200,800", f"--user-data-dir={self.profile}",
             "--remote-debugging-port=0", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        url = None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while loop.time() < deadline:
            line = await loop.run_in_executor(None, self.proc.stderr.readline)
            if not line:
                break
            m = re.search(r"DevTools listening on (ws://\S+)", line)
            if m:
                url = m.group(1)
                break
        if not url:
            raise RuntimeError("chromium did not start")
        # Keep draining stderr so that Chromium never blocks on a full pipe.
        loop.run_in_executor(None, lambda: [None for _ in self.proc.stderr])
        self.ws = await websockets.connect(url, max_size=None, ping_interval=None)
        self.next_id = 1
        self.pending = {}
        self.listeners = []
        self.reader = asyncio.ensure_future(self._read())
        return self

    async def _read(self):
        try:
            async for raw in self.ws:
                msg = json.loads(raw)
                if "id" in msg and msg["id"] in self.pending:
                    self.pending.pop(msg["id"]).set_result(msg)
                else:
                    for listener in list(self.listeners):
                        listener(msg)
        except websockets.ConnectionClosed:
            pass

    async def send(self, method, session=None, **params):
        mid = self.next_id
        self.next_id += 1
        fut = asyncio.get_running_loop().create_future()
        self.pending[mid] = fut
        msg = {"id": mid, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        await self.ws.send(json.dumps(msg))
        reply = await asyncio.wait_for(fut, 30)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    async def new_tab(self):
        target = (await self.send("Target.createTarget", url="about:blank"))["targetId"]
        session = (await self.send("Target.attachToTarget", targetId=target, flatten=True))["sessionId"]
        tab = Tab(self, target, session)
        await tab.send("Page.enable")
        await tab.send("Network.enable")
        await tab.send("Runtime.enable")
        return tab

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)

    async def close(self):
        try:
            await self.ws.close()
        except Exception:
            pass
        self.kill()


class Tab:
    def __init__(self, browser, target, session):
        self.browser, self.target, self.session = browser, target, session
        self.requests = []  # every URL this tab asked for
        self.ws_handshakes = []  # (url, status) of WebSocket handshake responses
        self.ws_errors = []
        browser.listeners.append(self._on_event)
        self._ws_urls = {}

    def _on_event(self, msg):
        if msg.get("sessionId") != self.session:
            return
        p = msg.get("params", {})
        if msg["method"] == "Network.requestWillBeSent":
            self.requests.append(p["request"]["url"])
        elif msg["method"] == "Network.webSocketCreated":
            self._ws_urls[p["requestId"]] = p["url"]
            self.requests.append(p["url"])
        elif msg["method"] == "Network.webSocketHandshakeResponseReceived":
            self.ws_handshakes.append((self._ws_urls.get(p["requestId"]), p["response"]["status"]))
        elif msg["method"] == "Network.webSocketFrameError":
            self.ws_errors.append(p.get("errorMessage"))

    async def send(self, method, **params):
        return await self.browser.send(method, session=self.session, **params)

    async def goto(self, url):
        await self.send("Page.navigate", url=url)
        await self.until("document.readyState === 'complete'", 15)

    async def eval(self, expression):
        r = await self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"{expression}: {r['exceptionDetails']}")
        return r["result"].get("value")

    async def until(self, expression, timeout=10):
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            try:
                if await self.eval(expression):
                    return True
            except RuntimeError:
                pass
            await asyncio.sleep(0.05)
        return False

    async def type(self, text):
        """Key by key, as a person types into the focused element."""
        for ch in text:
            if ch == "\n":
                await self.send("Input.dispatchKeyEvent", type="keyDown", key="Enter", code="Enter",
                                windowsVirtualKeyCode=13, text="\r")
                await self.send("Input.dispatchKeyEvent", type="keyUp", key="Enter", code="Enter",
                                windowsVirtualKeyCode=13)
            else:
                await self.send("Input.dispatchKeyEvent", type="keyDown", key=ch, text=ch)
                await self.send("Input.dispatchKeyEvent", type="keyUp", key=ch)

    async def cookies(self):
        return (await self.send("Network.getCookies"))["cookies"]

    async def screenshot(self, path):
        data = (await self.send("Page.captureScreenshot", format="png"))["data"]
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    async def close(self):
        await self.browser.send("Target.closeTarget", targetId=self.target)
