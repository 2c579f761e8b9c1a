# SPDX-License-Identifier: BSD-3-Clause
"""Fixtures for the tests of our `swtpm socket` (build/bin/swtpm).

Every server runs in a fresh temp dir, is waited for with a timeout, is
always stopped, and its stderr is kept: a sanitizer report fails the test
and a failure prints the command line to rerun.
"""
import fcntl
import os
import shlex
import signal
import socket
import struct
import subprocess
import time

import pytest

from conftest import tool
from helpers_socket import (BAD_STDERR, ClientArgs, free_port_pair,
                            rc_of, run_tool)

START_TIMEOUT = 10.0

__all__ = ["OurSwtpm", "swtpm_factory", "rc_of", "run_tool", "ctrl_cmd",
           "recv_exact", "serve_on_socketpair", "use_and_shut_down",
           "refused_init_stderr", "popen_unix_swtpm", "wait_for_path", "ends_on_sigterm",
           "kill_if_running",
           "TPM2_STARTUP",
           "TPM2_GETRANDOM8", "TPM12_STARTUP"]

CMD_INIT = 2

TPM2_STARTUP = bytes.fromhex("80010000000c000001440000")
TPM12_STARTUP = bytes.fromhex("00c10000000c000000990001")
TPM2_GETRANDOM8 = bytes.fromhex("80010000000c0000017b0008")


def refused_init_stderr(workdir, extra=()):
    """Start ours on workdir's state: INIT fails with 0x101, the daemon
    still stops cleanly; its stderr."""
    srv = OurSwtpm(workdir, running=False, extra=list(extra))
    try:
        assert srv.init() == 0x101, str(srv)
        assert srv.terminate() == 0
    finally:
        srv.stop()
    return srv.stderr()


def popen_unix_swtpm(tmp_path, extra=(), **kw):
    """`swtpm socket --tpm2` on tmp_path/state, started and serving, with
    data and control on tmp_path/d.sock and c.sock plus extra options;
    stderr piped.  The caller stops it (kill_if_running in a finally)."""
    st = tmp_path / "state"
    st.mkdir(exist_ok=True)
    return subprocess.Popen(
        [tool("swtpm"), "socket", "--tpm2", "--tpmstate", "dir=%s" % st,
         "--server", "type=unixio,path=%s" % (tmp_path / "d.sock"),
         "--ctrl", "type=unixio,path=%s" % (tmp_path / "c.sock"),
         "--flags", "not-need-init,startup-clear"] + list(extra),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kw)


def wait_for_path(proc, path, why=lambda: "", timeout=START_TIMEOUT):
    """Wait until a daemon started by the test has created path (its
    socket); fail with why() if it exits first or the time runs out."""
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        assert proc.poll() is None, why()
        assert time.monotonic() < deadline, "no %s after %ss: %s" % (
            path, timeout, why())
        time.sleep(0.05)


def wait_lockable(path, timeout, why, interval=0.01):
    """Until an exclusive record lock on path (created if missing) could
    be taken, and is given back at once; fail with why after timeout s."""
    deadline = time.monotonic() + timeout
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        while True:
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.lockf(fd, fcntl.LOCK_UN)
                return
            except OSError:
                assert time.monotonic() < deadline, why
                time.sleep(interval)
    finally:
        os.close(fd)


def ends_on_sigterm(proc, within=1):
    """SIGTERM ends the daemon, exit 0, within `within` seconds."""
    proc.terminate()
    assert proc.wait(timeout=within) == 0


def kill_if_running(proc):
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def recv_exact(s, n, timeout=10):
    s.settimeout(timeout)
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            break
        buf += chunk
    return buf


def serve_on_socketpair(iface, tpmstate, option="--fd"):
    """Our `swtpm IFACE --tpm2 --tpmstate TPMSTATE --flags startup-clear
    OPTION <fd>` on one end of a socketpair (OPTION: --fd, or --server
    with a "type=tcp,fd=%d" template): TPM2_GetRandom(8) is answered,
    closing our end ends the daemon with 0, and stderr stays empty."""
    ours, theirs = socket.socketpair()
    value = str(theirs.fileno())
    if option != "--fd":
        option, value = "--server", option % theirs.fileno()
    proc = subprocess.Popen(
        [tool("swtpm"), iface, "--tpm2", "--tpmstate", tpmstate,
         "--flags", "startup-clear", option, value],
        pass_fds=[theirs.fileno()], stderr=subprocess.PIPE)
    theirs.close()
    try:
        ours.sendall(TPM2_GETRANDOM8)
        assert rc_of(recv_exact(ours, 20)) == 0
        ours.close()
        assert proc.wait(timeout=10) == 0   # persistent fd: exit on close
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.stderr.read() == b""


def use_and_shut_down(proc, data, ctrl, commands=(TPM2_GETRANDOM8,)):
    """Send commands on the data channel (a Unix socket path, or a
    (host, port)), each answered with success, then CMD_SHUTDOWN through
    swtpm_ioctl on the Unix control socket ctrl: proc exits with 0."""
    if isinstance(data, tuple):
        s = socket.create_connection(data, timeout=10)
    else:
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(10)
        s.connect(str(data))
    for cmd in commands:
        s.sendall(cmd)
        assert rc_of(s.recv(4096)) == 0
    s.close()
    res = run_tool("swtpm_ioctl", "--unix", ctrl, "-s")
    assert res.rc == 0, str(res)
    assert proc.wait(timeout=10) == 0


def ctrl_cmd(s, code, body=b"", resp_len=4):
    """One control request on socket s; returns the reply bytes."""
    s.sendall(struct.pack(">I", code) + body)
    return recv_exact(s, resp_len)


class OurSwtpm(ClientArgs):
    """One `build/bin/swtpm socket` with its data and control channels."""

    def __init__(self, workdir, tpm2=True, transport="tcp", running=True,
                 extra=(), ctrl=True, server=True, wait=True,
                 tpmstate=None):
        self.dir = workdir
        self.tpm2 = tpm2
        self.transport = transport
        self.statedir = workdir / "state"
        self.statedir.mkdir(parents=True, exist_ok=True)
        self.errfile = workdir / "swtpm.stderr"
        # tpmstate: another --tpmstate value (backend-uri=file://...)
        argv = [tool("swtpm"), "socket", "--tpmstate",
                tpmstate or "dir=%s" % self.statedir]
        if tpm2:
            argv.append("--tpm2")
        self.port = None
        self.data_path = str(workdir / "data.sock")
        self.ctrl_path = str(workdir / "ctrl.sock")
        if transport == "tcp":
            self.port = free_port_pair()
            if server:
                argv += ["--server", "type=tcp,port=%d" % self.port]
            if ctrl:
                argv += ["--ctrl", "type=tcp,port=%d" % (self.port + 1)]
        else:
            if server:
                argv += ["--server", "type=unixio,path=%s" % self.data_path]
            if ctrl:
                argv += ["--ctrl", "type=unixio,path=%s" % self.ctrl_path]
        if running:
            argv += ["--flags", "not-need-init"]
        argv += [str(a) for a in extra]
        self.argv = argv
        self.errfh = open(self.errfile, "wb")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=self.errfh, stderr=self.errfh)
        self.has_ctrl = ctrl
        if wait:
            self.wait_ready()

    def connect_ctrl(self, timeout=5):
        if self.transport == "tcp":
            return socket.create_connection(("127.0.0.1", self.port + 1),
                                            timeout=timeout)
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(timeout)
        s.connect(self.ctrl_path)
        return s

    def connect_data(self, timeout=10):
        if self.transport == "tcp":
            return socket.create_connection(("127.0.0.1", self.port),
                                            timeout=timeout)
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(timeout)
        s.connect(self.data_path)
        return s

    def wait_ready(self):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                if self.has_ctrl:
                    # A probe that sends nothing would hold the one control
                    # slot; GET_CAPABILITY is harmless.
                    with self.connect_ctrl(timeout=2) as s:
                        ctrl_cmd(s, 1, resp_len=8)
                else:
                    self.connect_data(timeout=2).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("swtpm did not come up: %s\n%s"
                           % (shlex.join(self.argv), self.stderr()))

    def ctrl(self, code, body=b"", resp_len=4):
        with self.connect_ctrl() as s:
            return ctrl_cmd(s, code, body, resp_len)

    def init(self, flags=0):
        """CMD_INIT; its TPM result code."""
        r = self.ctrl(CMD_INIT, struct.pack(">I", flags))
        assert len(r) >= 4, r.hex()
        return struct.unpack(">I", r[:4])[0]

    def tpm_cmd(self, cmd, sock=None):
        """Send one raw TPM command; read the response by its size."""
        s = sock or self.connect_data()
        try:
            s.sendall(cmd)
            resp = recv_exact(s, 10)
            if len(resp) == 10:
                size = struct.unpack(">I", resp[2:6])[0]
                resp += recv_exact(s, size - 10)
        finally:
            if sock is None:
                s.close()
        return resp

    def startup(self):
        return rc_of(self.tpm_cmd(TPM2_STARTUP if self.tpm2
                                  else TPM12_STARTUP))

    def alive(self):
        return self.proc.poll() is None

    def wait_exit(self, timeout=10):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def terminate(self, sig=signal.SIGTERM, timeout=10):
        self.proc.send_signal(sig)
        return self.wait_exit(timeout)

    def stderr(self):
        try:
            return self.errfile.read_text(errors="replace")
        except OSError:
            return ""

    def check_stderr(self):
        err = self.stderr()
        for bad in BAD_STDERR:
            assert bad not in err, "%s\n%s" % (shlex.join(self.argv), err)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        if not self.errfh.closed:
            self.errfh.close()

    def __str__(self):
        return "command: %s\nstderr:\n%s" % (shlex.join(self.argv),
                                             self.stderr())


class _Made:
    """The servers a factory fixture made: each in tmp_path/<name>, all
    stopped and their stderr checked at the end."""

    def __init__(self, tmp_path):
        self.tmp_path, self.made = tmp_path, []

    def start(self, name, *args, **kw):
        d = self.tmp_path / name
        d.mkdir()
        srv = OurSwtpm(d, *args, **kw)
        self.made.append(srv)
        return srv

    def stop_all(self):
        for srv in self.made:
            srv.stop()
            srv.check_stderr()


@pytest.fixture
def swtpm_factory(tmp_path):
    """Factory: swtpm_factory(tpm2=True, transport='tcp', ...)."""
    made = _Made(tmp_path)
    yield lambda *args, **kw: made.start("swtpm%d" % len(made.made), *args,
                                         **kw)
    made.stop_all()


@pytest.fixture
def servers(tmp_path):
    """Factory: servers(name, tpmstate, **OurSwtpm options), not yet
    running unless running=True (test_nfs.py, test_shared_block.py)."""
    made = _Made(tmp_path)

    def make(name, tpmstate, **kw):
        kw.setdefault("running", False)
        return made.start(name, tpmstate=tpmstate, **kw)

    yield make
    made.stop_all()
