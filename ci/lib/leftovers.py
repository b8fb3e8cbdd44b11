#!/usr/bin/python3
"""What the project's programs left on the host: processes and zombies of lifeline's
binaries, and lifeline-* cgroups that were not there when the run began.

  leftovers.py --snapshot FILE   records the cgroups present now (ci/test.sh, at start)
  leftovers.py --check FILE      fails, naming each, on anything left since the snapshot
"""
import json
import os
import sys

NAMES = ("lifeline-gatewa", "lifeline-gateway", "lifeline-slash-", "lifeline-slash-worker",
         "lifeline-soak", "lifeline-bench", "lifeline-line-e", "simrun")


def own_cgroup_root():
    try:
        with open("/proc/self/cgroup") as f:
            rel = next((line.split(":", 2)[2].strip() for line in f if line.startswith("0::")), None)
    except OSError:
        return None
    for mount in ("/sys/fs/cgroup/unified", "/sys/fs/cgroup"):
        path = os.path.join(mount, (rel or "/").lstrip("/"))
        if os.path.exists(os.path.join(path, "cgroup.procs")):
            return path
    return None


def cgroups(root):
    out = []
    if not root:
        return out
    for dirpath, dirnames, _ in os.walk(root):
        for d in dirnames:
            if d.startswith("lifeline-"):
                out.append(os.path.join(dirpath, d))
        dirnames[:] = [d for d in dirnames if not d.startswith("lifeline-")]
    return sorted(out)


def processes():
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        state = stat[stat.rindex(")") + 2]
        if comm in NAMES:
            found.append(f"pid {pid} ({comm}){' zombie' if state == 'Z' else ''}")
    return found


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("--snapshot", "--check"):
        print(__doc__, file=sys.stderr)
        return 2
    root = own_cgroup_root()
    if sys.argv[1] == "--snapshot":
        with open(sys.argv[2], "w") as f:
            json.dump(cgroups(root), f)
        return 0
    try:
        with open(sys.argv[2]) as f:
            before = set(json.load(f))
    except OSError:
        before = set()
    left = [f"cgroup {c}" for c in cgroups(root) if c not in before] + processes()
    for item in left:
        print(f"leftovers: {item}")
    print(f"leftovers: {len(left)} thing(s) of the project left on the host")
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())
