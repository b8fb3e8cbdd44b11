#!/usr/bin/python3
"""The terminal path, measured (issue 24 item 4): keystroke echo and output throughput
through lifeline's PTY, against websocketd running the same program over a pipe, and
against the physical floor (the same program in a PTY read by a local process, no
network). One Python client for every server, so that the ratios compare the servers.

    /usr/bin/python3 runtime/bench/terminal_bench.py [--mib N] [--keys N]

Prints a markdown table. Needs the build tree's gateway (LIFELINE_BUILD, default
build/default) and websocketd (skipped, saying so, when missing)."""
import argparse
import asyncio
import base64
import json
import os
import pty
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import websockets

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("LIFELINE_BUILD", os.path.join(ROOT, "build", "default"))
GATEWAY = os.path.join(BUILD, "runtime", "lifeline-gateway")


def script(body):
    fd, path = tempfile.mkstemp(prefix="lifeline-bench-", suffix=".sh")
    os.write(fd, ("#!/bin/sh\n" + body + "\n").encode())
    os.close(fd)
    os.chmod(path, 0o755)
    return path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gateway:
    def __init__(self, pty_cmd):
        self.state = tempfile.mkdtemp(prefix="lifeline-bench-state-")
        self.port = free_port()
        self.proc = subprocess.Popen(
            [GATEWAY, "--listen", f"127.0.0.1:{self.port}", "--state-dir", self.state, "--pty-cmd", pty_cmd],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for line in self.proc.stderr:
            if line.startswith("listening "):
                break
        self.token = open(os.path.join(self.state, "token")).read().strip()

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        shutil.rmtree(self.state, ignore_errors=True)


async def lifeline_terminal(gw):
    """A connection with one session and one terminal whose program has started."""
    ws = await websockets.connect(f"ws://127.0.0.1:{gw.port}/ws?token={gw.token}", max_size=None)
    await ws.recv()  # gateway.ready
    await ws.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "session.create"}))
    sid = json.loads(await ws.recv())["result"]["session_id"]
    await ws.send(json.dumps({"jsonrpc": "2.0", "id": 2, "method": "pty.open",
                              "params": {"session_id": sid, "cols": 80, "rows": 24}}))
    while True:
        m = json.loads(await ws.recv())
        if m.get("id") == 2:
            return ws, m["result"]["pty_id"]


async def lifeline_echo(gw, keys):
    ws, pty_id = await lifeline_terminal(gw)
    await asyncio.sleep(0.3)  # stty has run
    samples = []
    for i in range(keys):
        t0 = time.perf_counter()
        await ws.send(json.dumps({"jsonrpc": "2.0", "method": "pty.write",
                                  "params": {"pty_id": pty_id, "data": base64.b64encode(b"k").decode()}}))
        while True:
            m = json.loads(await ws.recv())
            if m.get("method") == "event" and m["params"]["type"] == "pty.output":
                break
        samples.append(time.perf_counter() - t0)
    await ws.close()
    return statistics.median(samples)


async def lifeline_throughput(gw, nbytes):
    ws, pty_id = await lifeline_terminal(gw)
    got, t0 = 0, time.perf_counter()
    while got < nbytes:
        m = json.loads(await ws.recv())
        if m.get("method") == "event" and m["params"]["type"] == "pty.output":
            got += len(base64.b64decode(m["params"]["payload"]["data"]))
    elapsed = time.perf_counter() - t0
    await ws.close()
    return got / elapsed


async def websocketd_echo(keys):
    port = free_port()
    proc = subprocess.Popen(["websocketd", "--port", str(port), "--address", "127.0.0.1", "cat"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                ws = await websockets.connect(f"ws://127.0.0.1:{port}/")
                break
            except OSError:
                await asyncio.sleep(0.05)
        samples = []
        for _ in range(keys):
            t0 = time.perf_counter()
            await ws.send("k")
            await ws.recv()
            samples.append(time.perf_counter() - t0)
        await ws.close()
        return statistics.median(samples)
    finally:
        proc.terminate()
        proc.wait(10)


def local_pty(argv):
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(argv[0], argv)
    return pid, fd


def local_echo(cat_script, keys):
    pid, fd = local_pty([cat_script])
    time.sleep(0.3)
    samples = []
    for _ in range(keys):
        t0 = time.perf_counter()
        os.write(fd, b"k")
        os.read(fd, 65536)
        samples.append(time.perf_counter() - t0)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    os.close(fd)
    return statistics.median(samples)


def local_throughput(flood_script, nbytes):
    """The floor: the PTY master read by dd (C, 64 KiB reads), not by this Python loop,
    which reads slower than the gateway does."""
    pid, fd = local_pty([flood_script])
    t0 = time.perf_counter()
    # On its stdin: /dev/fd/N of a PTY master would open a new PTY. Ends in EIO once the
    # writer exits.
    subprocess.run(["dd", "of=/dev/null", "bs=64k", "status=none"], stdin=fd,
                   stderr=subprocess.DEVNULL)
    elapsed = time.perf_counter() - t0
    os.waitpid(pid, 0)
    os.close(fd)
    return nbytes / elapsed


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mib", type=int, default=64, help="output throughput: MiB through the PTY (64)")
    ap.add_argument("--keys", type=int, default=500, help="keystroke echo: round trips (500)")
    a = ap.parse_args()
    nbytes = a.mib << 20
    cat = script("stty raw -echo\nexec cat")
    flood = script(f"stty raw -echo\nexec head -c {nbytes} /dev/zero")
    rows = []
    try:
        floor_echo = local_echo(cat, a.keys)
        floor_tp = local_throughput(flood, nbytes)
        gw = Gateway(cat)
        try:
            ll_echo = asyncio.run(lifeline_echo(gw, a.keys))
        finally:
            gw.stop()
        gw = Gateway(flood)
        try:
            ll_tp = asyncio.run(lifeline_throughput(gw, nbytes))
        finally:
            gw.stop()
        wsd_echo = asyncio.run(websocketd_echo(a.keys)) if shutil.which("websocketd") else None
    finally:
        os.unlink(cat)
        os.unlink(flood)
    us = lambda s: f"{s * 1e6:.0f} µs"  # noqa: E731
    print(f"terminal path, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, {a.keys} keys, {a.mib} MiB\n")
    print("| measure | lifeline | websocketd (cat, pipe) | local PTY floor | lifeline vs websocketd | lifeline vs floor |")
    print("|---|---|---|---|---|---|")
    wsd = us(wsd_echo) if wsd_echo else "n/a"
    ratio = f"{ll_echo / wsd_echo:.2f}×" if wsd_echo else "n/a"
    print(f"| keystroke echo p50 | {us(ll_echo)} | {wsd} | {us(floor_echo)} | {ratio} | {ll_echo / floor_echo:.1f}× |")
    print(f"| output throughput | {ll_tp / 2**20:.1f} MiB/s | n/a | {floor_tp / 2**20:.1f} MiB/s | n/a | "
          f"{100 * ll_tp / floor_tp:.0f}% |")


if __name__ == "__main__":
    sys.exit(main())
