"""Debian's nginx as an unprivileged child, serving deploy/nginx/lifeline.conf with its
two gateway ports and its listen address rewritten: the proxy of the deploy tests."""
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from gateway_harness import Client  # noqa: E402

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
CONF = os.path.join(os.path.dirname(__file__), "..", "..", "deploy", "nginx", "lifeline.conf")


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Proxy:
    def __init__(self, port_a, port_b, token, port):
        self.port = port
        self.host = f"127.0.0.1:{self.port}"
        self.prefix = tempfile.mkdtemp(prefix="lifeline-nginx-")
        self.url = f"ws://{self.host}/ws?token={token}"
        with open(CONF) as f:
            site = f.read()
        site = (site.replace("127.0.0.1:8765", f"127.0.0.1:{port_a}")
                    .replace("127.0.0.1:8766", f"127.0.0.1:{port_b}")
                    .replace("listen 127.0.0.1:8080", f"listen {self.host}")
                    .replace("/var/log/nginx/lifeline.access.log", f"{self.prefix}/access.log"))
        with open(os.path.join(self.prefix, "lifeline.conf"), "w") as f:
            f.write(site)
        with open(os.path.join(self.prefix, "nginx.conf"), "w") as f:
            f.write("daemon off;\nworker_processes 1;\nerror_log stderr warn;\n"
                    f"pid {self.prefix}/nginx.pid;\nevents {{ worker_connections 256; }}\n"
                    "http {\n  access_log off;\n"
                    f"  client_body_temp_path {self.prefix}/body;\n  proxy_temp_path {self.prefix}/proxy;\n"
                    f"  fastcgi_temp_path {self.prefix}/fcgi;\n  uwsgi_temp_path {self.prefix}/uwsgi;\n"
                    f"  scgi_temp_path {self.prefix}/scgi;\n  include {self.prefix}/lifeline.conf;\n}}\n")
        self.proc = subprocess.Popen([NGINX, "-p", self.prefix, "-c", f"{self.prefix}/nginx.conf"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    async def wait_ready(self):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                c = await Client.open(self.url)
                await c.close()
                return
            except OSError:
                await asyncio.sleep(0.1)
        raise AssertionError("nginx did not start")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    def destroy(self):
        self.stop()
        shutil.rmtree(self.prefix, ignore_errors=True)


async def ready_instance(client):
    for _ in range(100):
        for e in client.events:
            if e.get("type") == "gateway.ready":
                return e["payload"]["instance"]
        await asyncio.sleep(0.02)
    raise AssertionError("no gateway.ready")
