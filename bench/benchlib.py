# SPDX-License-Identifier: BSD-3-Clause
"""Helpers for bench/run: daemons under test, tpmbench runs, statistics,
machine description and target checks."""
import json
import os
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
BUILD = os.path.join(REPO, os.environ.get("BUILD", "build"))
STATE = os.path.join(HERE, "state", "tpm2-00.permall")
OURS = os.path.join(BUILD, "bin", "swtpm")
UPSTREAM = "/usr/bin/swtpm"
TPMBENCH = os.path.join(BUILD, "bench", "tpmbench")
STARTBENCH = os.path.join(BUILD, "bench", "startbench")
NOWORK = os.path.join(BUILD, "bench", "nowork")

GETRANDOM32 = bytes.fromhex("80010000000c0000017b0020")
TPM12_GETRANDOM32 = bytes.fromhex("00c10000000e0000004600000020")


def env_int(name, default):
    """A positive integer from the environment (BENCH_*)."""
    v = os.environ.get(name, "")
    try:
        return max(1, int(v)) if v else default
    except ValueError:
        raise SystemExit("bench: %s must be a number, got '%s'" % (name, v))


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def fs_type(path):
    """Filesystem type of path (from /proc/self/mounts, longest prefix)."""
    path = os.path.realpath(path)
    best, typ = "", "?"
    with open("/proc/self/mounts") as f:
        for line in f:
            dev, mnt, t = line.split()[:3]
            mnt = mnt.replace("\\040", " ")
            if (path == mnt or path.startswith(mnt.rstrip("/") + "/")) \
                    and len(mnt) >= len(best):
                best, typ = mnt, "%s (%s on %s)" % (t, dev, mnt)
    return typ


def machine():
    """nproc, CPU model, kernel, memory: what the numbers were taken on."""
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = "?"
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = "%d MiB" % (int(line.split()[1]) // 1024)
    u = os.uname()
    return {"nproc": os.cpu_count(), "cpu": model, "kernel": u.release,
            "machine": u.machine, "memory": mem, "hostname": u.nodename,
            "loadavg": open("/proc/loadavg").read().split()[:3]}


def fresh_dir(parent, name, seeded=True):
    d = tempfile.mkdtemp(prefix=name + ".", dir=parent)
    if seeded:
        shutil.copy(STATE, d)
    return d


def wait_socket(path, timeout=10.0):
    """Wait until a Unix socket accepts connections (the file appears
    before listen())."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect(path)
            return True
        except OSError:
            time.sleep(0.005)
        finally:
            s.close()
    return False


def wait_port(port, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return True
        except OSError:
            time.sleep(0.005)
    return False


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Daemon:
    """One `swtpm socket` (ours or upstream) on a Unix or TCP socket."""

    def __init__(self, exe, statedir, kind="unix", tpm2=True, cpu=None,
                 wrap=()):
        self.exe, self.statedir, self.kind = exe, statedir, kind
        self.log = statedir + ".log"
        if kind == "unix":
            self.addr = statedir + ".sock"
            server = "type=unixio,path=" + self.addr
        else:
            self.addr = str(free_port())
            server = "type=tcp,port=%s,bindaddr=127.0.0.1" % self.addr
        args = [exe, "socket", "--tpmstate", "dir=" + statedir,
                "--server", server, "--log", "file=" + self.log,
                "--flags", "not-need-init,startup-clear"]
        if tpm2:
            args.insert(2, "--tpm2")
        if cpu is not None:
            args = ["taskset", "-c", str(cpu)] + args
        self.args = list(wrap) + args
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        ok = wait_socket(self.addr) if kind == "unix" else \
            wait_port(int(self.addr))
        if not ok:
            self.stop()
            raise RuntimeError("%s did not come up: %s" % (
                " ".join(self.args), self.errors()))

    def target(self, name):
        return "%s=%s:%s" % (name, self.kind, self.addr)

    def errors(self):
        try:
            with open(self.log) as f:
                return f.read()[-2000:]
        except OSError:
            return ""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stderr.close()


class NoWork:
    """bench/nowork: the transport floor, a server answering a canned
    response without any work, on a Unix or TCP socket."""

    def __init__(self, kind, workdir, cpu=None):
        self.kind = kind
        if kind == "unix":
            self.addr = os.path.join(workdir, "nowork.sock")
            spec = "unix:" + self.addr
        else:
            self.addr = str(free_port())
            spec = "tcp:" + self.addr
        args = [NOWORK, spec]
        if cpu is not None:
            args = ["taskset", "-c", str(cpu)] + args
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL)
        ok = wait_socket(self.addr) if kind == "unix" else \
            wait_port(int(self.addr))
        if not ok:
            self.stop()
            raise RuntimeError("nowork did not come up")

    def target(self, name):
        return "%s=%s:%s" % (name, self.kind, self.addr)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def tpmbench(targets, cmds, tpm12=False, cpu=None, warmup=5):
    """Run tpmbench; returns {(target, cmd): result dict}."""
    args = [TPMBENCH, "--warmup", str(warmup), "--cmds",
            ",".join("%s=%d" % c for c in cmds)]
    if tpm12:
        args.append("--tpm12")
    args += targets
    if cpu is not None:
        args = ["taskset", "-c", str(cpu)] + args
    p = subprocess.run(args, capture_output=True, text=True, timeout=1800)
    if p.returncode != 0:
        raise RuntimeError("tpmbench failed (%d): %s\nrerun: %s" % (
            p.returncode, p.stderr, " ".join(args)))
    return parse_lines(p.stdout)


def parse_lines(text):
    out = {}
    for line in text.splitlines():
        if line.startswith("{\"target\""):
            d = json.loads(line)
            out[(d["target"], d["cmd"])] = d
    return out


def send_cmd_unix(path, cmd, timeout=10.0):
    """Connect, send one command, read the whole response."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(timeout)
    s.connect(path)
    s.sendall(cmd)
    buf = b""
    while len(buf) < 6 or len(buf) < struct.unpack(">I", buf[2:6])[0]:
        chunk = s.recv(4096)
        if not chunk:
            break
        buf += chunk
    s.close()
    return buf


def smaps_rollup(pid):
    """Pss and Rss of a process in KiB."""
    vals = {}
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and parts[0].endswith(":"):
                try:
                    vals[parts[0][:-1]] = int(parts[1])
                except ValueError:
                    pass
    return vals


def verdict(ratio, target, lower_is_better=True):
    """'ok' or 'missed by N%' for a ratio against its target."""
    if ratio is None or ratio != ratio:
        return "n/a"
    if ratio <= target:
        return "ok"
    return "MISSED by %.0f%%" % ((ratio / target - 1) * 100)


def strace_counts(path):
    """{syscall: calls} from an `strace -c` summary file."""
    counts = {}
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) in (5, 6) and parts[-1] != "total" and \
                    parts[3].isdigit():
                counts[parts[-1]] = int(parts[3])
    return counts
