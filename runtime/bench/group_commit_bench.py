#!/usr/bin/python3
"""Group commit, measured (issue 24 item 2): fsyncs per acknowledged transcript entry and
acknowledged entries per second, with 1 and with 16 clients each sending slash.exec back
to back on a session of its own, against the build tree's gateway with its default
synchronous=FULL store.

    /usr/bin/python3 runtime/bench/group_commit_bench.py [--seconds S]

Two runs per client count: one under `strace -f -c --seccomp-bpf` counting fsync and
fdatasync (whose overhead would distort the rate), one without for the rate. Prints a
markdown table. Needs strace (Debian's) and python3-websockets."""
import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import websockets

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("LIFELINE_BUILD", os.path.join(ROOT, "build", "default"))
GATEWAY = os.path.join(BUILD, "runtime", "lifeline-gateway")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gateway:
    """The gateway on a scratch state dir; under strace -c when `counts` names a file."""

    def __init__(self, counts=None):
        self.state = tempfile.mkdtemp(prefix="lifeline-bench-state-")
        self.port = free_port()
        argv = [GATEWAY, "--listen", f"127.0.0.1:{self.port}", "--state-dir", self.state]
        self.traced = counts is not None
        if counts:
            argv = ["strace", "-f", "-c", "--seccomp-bpf", "-e", "trace=fsync,fdatasync",
                    "-o", counts] + argv
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        for line in self.proc.stderr:
            if line.startswith("listening "):
                break
        self.token = open(os.path.join(self.state, "token")).read().strip()

    def stop(self):
        # SIGTERM to the gateway itself (strace does not pass its own on); strace writes
        # its summary once the gateway has exited.
        pid = self.proc.pid
        if self.traced:
            with open(f"/proc/{pid}/task/{pid}/children") as f:
                pid = int(f.read().split()[0])
        os.kill(pid, signal.SIGTERM)
        self.proc.wait(30)
        shutil.rmtree(self.state, ignore_errors=True)


async def client(gw, seconds, acks):
    async with websockets.connect(f"ws://127.0.0.1:{gw.port}/ws?token={gw.token}") as ws:
        await ws.recv()  # gateway.ready
        await ws.send(json.dumps({"jsonrpc": "2.0", "id": 0, "method": "session.create"}))
        sid = json.loads(await ws.recv())["result"]["session_id"]
        end = time.monotonic() + seconds
        n = 1
        while time.monotonic() < end:
            await ws.send(json.dumps({"jsonrpc": "2.0", "id": n, "method": "slash.exec",
                                      "params": {"session_id": sid, "command": f"/echo {n}"}}))
            while True:
                m = json.loads(await ws.recv())
                if m.get("id") == n:
                    break
            if "seq" in m.get("result", {}):
                acks.append(1)
            n += 1


def load(gw, clients, seconds):
    acks = []

    async def all_clients():
        await asyncio.gather(*(client(gw, seconds, acks) for _ in range(clients)))

    asyncio.run(all_clients())
    return len(acks)


def fsyncs(counts):
    total = 0
    for line in open(counts):
        cols = line.split()
        if cols and cols[-1] in ("fsync", "fdatasync"):
            total += int(cols[3])  # % time, seconds, usecs/call, calls, [errors,] syscall
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5)
    a = ap.parse_args()
    if not shutil.which("strace"):
        sys.exit("group_commit_bench: strace is needed (apt-get install strace)")
    rows = {}
    for clients in (1, 16):
        counts = tempfile.mktemp(prefix="lifeline-strace-")
        gw = Gateway(counts)
        traced = load(gw, clients, a.seconds)
        gw.stop()
        calls = fsyncs(counts)
        os.unlink(counts)
        gw = Gateway()
        rate = load(gw, clients, a.seconds) / a.seconds
        gw.stop()
        rows[clients] = (traced, calls, rate)
    print(f"group commit, {a.seconds:g} s per run, synchronous=FULL, "
          f"{os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}")
    print("| clients | acknowledged (traced run) | fsync + fdatasync | per acknowledged entry "
          "| acknowledged entries/s (untraced) |")
    print("|---|---|---|---|---|")
    for clients, (traced, calls, rate) in rows.items():
        print(f"| {clients} | {traced} | {calls} | {calls / max(traced, 1):.2f} | {rate:.0f} |")
    print(f"\n16 clients / 1 client, acknowledged entries per second: "
          f"{rows[16][2] / max(rows[1][2], 1):.2f}x (goal: 4x)")


if __name__ == "__main__":
    main()
