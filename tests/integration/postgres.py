"""A throwaway PostgreSQL cluster for the tests (docs/DESIGN.md, Durability): Debian's
server binaries, a data directory and a Unix socket in a temporary directory, run as
the `postgres` user when we are root (initdb refuses root), trust authentication on the
socket alone (no TCP). Started, restarted and stopped by the test that owns it.

Also a command line, for ctest wrappers and manual runs:
    postgres.py run -- CMD...   starts a cluster, runs CMD with LIFELINE_TEST_PG_URL set
                                (and LIFELINE_SOAK_DB_RESTART, the command that restarts
                                it), stops the cluster, exits with CMD's status.
    postgres.py restart DIR     restarts the cluster made in DIR (fast shutdown).
"""
import glob
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time


def server_bin():
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(d.split("/")[-2]))
    if not dirs:
        raise RuntimeError("PostgreSQL's server is not installed (Debian package postgresql; "
                           "ci/install-deps.sh installs it)")
    return dirs[-1]


class Postgres:
    def __init__(self, database="lifeline"):
        self.bin = server_bin()
        self.dir = tempfile.mkdtemp(prefix="lifeline-pg-")
        self.data = os.path.join(self.dir, "data")
        self.database = database
        self.as_root = os.geteuid() == 0
        if self.as_root:
            pg = pwd.getpwnam("postgres")
            os.chown(self.dir, pg.pw_uid, pg.pw_gid)
        os.chmod(self.dir, 0o755)
        self.url = f"postgresql://postgres@/{database}?host={self.dir}"
        self.started = False

    def _as_owner(self, argv, **kw):
        if self.as_root:
            argv = ["runuser", "-u", "postgres", "--"] + argv
        return subprocess.run(argv, check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, cwd=self.dir, **kw)

    def start(self):
        if not os.path.exists(self.data):
            self._as_owner([f"{self.bin}/initdb", "-D", self.data, "-U", "postgres", "--auth=trust",
                            "--no-sync", "-E", "UTF8", "--locale=C"])
        self._pg_ctl("start")
        if not self.started:
            self.psql("CREATE DATABASE " + self.database, database="postgres")
        self.started = True
        return self

    def _pg_ctl(self, action, mode="fast"):
        opts = f"-k {self.dir} -c listen_addresses='' -c max_connections=100"
        argv = [f"{self.bin}/pg_ctl", "-D", self.data, "-w", "-t", "30", "-m", mode,
                "-l", os.path.join(self.dir, "log")]
        if action != "stop":
            argv += ["-o", opts]
        self._as_owner(argv + [action])

    def stop(self, mode="fast"):
        self._pg_ctl("stop", mode)

    def restart(self, mode="fast"):
        self._pg_ctl("restart", mode)

    def psql(self, sql, database=None):
        """Runs sql; returns the rows as lists of strings (unaligned, tab-separated)."""
        out = subprocess.run([os.path.join(self.bin, "psql"), "-X", "-q", "-A", "-t", "-F", "\t",
                              "-v", "ON_ERROR_STOP=1", "-h", self.dir, "-U", "postgres",
                              "-d", database or self.database, "-c", sql],
                             check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        return [line.split("\t") for line in out.stdout.splitlines() if line]

    def destroy(self):
        try:
            self.stop("immediate")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.destroy()


    @classmethod
    def attach(cls, directory):
        """The cluster another process made in directory (for `restart DIR`)."""
        pg = cls.__new__(cls)
        pg.bin = server_bin()
        pg.dir = directory
        pg.data = os.path.join(directory, "data")
        pg.as_root = os.geteuid() == 0
        pg.started = True
        return pg


def main(argv):
    if len(argv) == 3 and argv[1] == "restart":
        Postgres.attach(argv[2]).restart()
        return 0
    if len(argv) < 3 or argv[1] != "run" or argv[2] != "--":
        print(__doc__, file=sys.stderr)
        return 2
    t = time.monotonic()
    with Postgres() as pg:
        print(f"postgres.py: cluster up in {time.monotonic() - t:.1f} s at {pg.url}", file=sys.stderr)
        env = dict(os.environ, LIFELINE_TEST_PG_URL=pg.url,
                   LIFELINE_SOAK_DB_RESTART=restart_on_request(pg))
        return subprocess.run(argv[3:], env=env).returncode


def restart_on_request(pg):
    """A restart the command's processes may ask for, carried out here: the restarted
    server is then this process's descendant, not theirs (a soak that is a subreaper
    would count it as its own). Returns the shell command that asks and waits."""
    import threading
    ask, done = os.path.join(pg.dir, "restart.ask"), os.path.join(pg.dir, "restart.done")
    os.mkfifo(ask)
    os.mkfifo(done)

    def serve():
        while True:
            with open(ask) as f:
                f.read()
            try:
                pg.restart()
                answer = "ok"
            except subprocess.CalledProcessError as e:
                answer = "failed: " + (e.stdout or "").strip().replace("\n", " ")
            with open(done, "w") as f:
                f.write(answer + "\n")

    threading.Thread(target=serve, daemon=True).start()
    return f"echo restart > {ask} && read answer < {done} && test \"$answer\" = ok"


if __name__ == "__main__":
    sys.exit(main(sys.argv))
