# SPDX-License-Identifier: BSD-3-Clause
"""Fixtures for tests that talk to a socket TPM (`swtpm socket`).

The server is Debian's upstream /usr/bin/swtpm (0.7.1 on the test hosts),
or $SWTPM_SOCKET_BIN, started in a fresh temp dir with free TCP ports or
Unix sockets.  Every server is killed at the end of the test and its
stderr is kept in a file so failures can show it.
"""
import hashlib
import os
import shlex
import socket
import struct
import subprocess
import time

import pytest

from conftest import tool

SWTPM = os.environ.get("SWTPM_SOCKET_BIN", "/usr/bin/swtpm")
START_TIMEOUT = 10.0
TOOL_TIMEOUT = 60

# Lines our tools must never print (sanitizer reports, crashes).
BAD_STDERR = ("AddressSanitizer", "runtime error:", "LeakSanitizer",
              "stack smashing", "Segmentation fault")


def free_port_pair():
    """A port P with P and P+1 free on 127.0.0.1 (racy but adequate)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port >= 65535:
            continue
        try:
            with socket.socket() as s1, socket.socket() as s2:
                s1.bind(("127.0.0.1", port))
                s2.bind(("127.0.0.1", port + 1))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port pair")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Result:
    """Outcome of one tool run; str() gives the command to rerun."""

    def __init__(self, argv, proc):
        self.argv = argv
        self.rc = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    def __str__(self):
        return ("command: %s\nexit: %d\nstdout:\n%s\nstderr:\n%s"
                % (shlex.join(self.argv), self.rc, self.out, self.err))


def run_tool(name, *args, input=None, env=None, timeout=TOOL_TIMEOUT):
    argv = [tool(name)] + [str(a) for a in args]
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    proc = subprocess.run(argv, input=input, capture_output=True,
                          text=isinstance(input, str) or input is None,
                          env=full_env, timeout=timeout)
    res = Result(argv, proc)
    err = res.err if isinstance(res.err, str) else res.err.decode()
    for bad in BAD_STDERR:
        assert bad not in err, str(res)
    return res


def expect_ok(res):
    assert res.rc == 0, str(res)
    return res


def expect_fail(res, *needles, rc=1):
    assert res.rc == rc, str(res)
    for n in needles:
        assert n in res.err, "missing %r\n%s" % (n, res)
    return res


class ClientArgs:
    """Connection arguments for swtpm_ioctl/swtpm_bios and the tpm2-tss
    swtpm TCTI, for any server fixture with transport, port (data; the
    control port is port + 1, as the TCTI expects), ctrl_path, data_path.
    """

    def ctrl_args(self):
        if self.transport == "tcp":
            return ["--tcp", "127.0.0.1:%d" % (self.port + 1)]
        return ["--unix", self.ctrl_path]

    def data_args(self):
        if self.transport == "tcp":
            return ["--tcp", "127.0.0.1:%d" % self.port]
        return ["--unix", self.data_path]

    def tcti(self):
        assert self.transport == "tcp"
        return "swtpm:host=127.0.0.1,port=%d" % self.port


class SwtpmServer(ClientArgs):
    """One `swtpm socket` process with its data and control channels."""

    def __init__(self, workdir, tpm2, transport="tcp", running=True,
                 extra=(), tpmstate=None):
        self.dir = workdir
        # tpmstate: another --tpmstate value (backend-uri=file://...)
        self.tpmstate = tpmstate
        self.tpm2 = tpm2
        self.transport = transport
        self.statedir = workdir / "state"
        self.statedir.mkdir(parents=True, exist_ok=True)
        self.errfile = workdir / "swtpm.stderr"
        # A TCP port pair can be taken by someone else between our probe
        # and swtpm's bind(): then swtpm exits and we retry with new ports.
        for _ in range(5):
            self._start(tpm2, workdir, running, extra)
            if self._wait_ready():
                return
            if transport != "tcp" or self.proc.poll() is None:
                break
            self.stop()
        self.stop()
        raise RuntimeError("swtpm did not come up: %s\n%s"
                           % (shlex.join(self.argv), self.stderr()))

    def _start(self, tpm2, workdir, running, extra):
        argv = [SWTPM, "socket", "--tpmstate",
                self.tpmstate or "dir=%s" % self.statedir]
        if tpm2:
            argv.append("--tpm2")
        if self.transport == "tcp":
            self.port = free_port_pair()
            argv += ["--server", "type=tcp,port=%d" % self.port,
                     "--ctrl", "type=tcp,port=%d" % (self.port + 1)]
        else:
            self.data_path = str(workdir / "data.sock")
            self.ctrl_path = str(workdir / "ctrl.sock")
            argv += ["--server", "type=unixio,path=%s" % self.data_path,
                     "--ctrl", "type=unixio,path=%s" % self.ctrl_path]
        if running:
            argv += ["--flags", "not-need-init"]
        argv += list(extra)
        self.argv = argv
        self.errfh = open(self.errfile, "wb")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=self.errfh, stderr=self.errfh)

    def _connect(self, ctrl):
        if self.transport == "tcp":
            port = self.port + 1 if ctrl else self.port
            return socket.create_connection(("127.0.0.1", port), timeout=1)
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(1)
        s.connect(self.ctrl_path if ctrl else self.data_path)
        return s

    def _wait_ready(self):
        """True once both listeners accept connections from our process.

        A Unix socket file appears at bind(), before listen(), so its mere
        existence is not enough; a TCP connect could reach another
        process's listener, so our process must still be alive after it.
        """
        deadline = time.monotonic() + START_TIMEOUT
        pending = [True, False]
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                self._connect(pending[0]).close()
            except OSError:
                time.sleep(0.05)
                continue
            pending.pop(0)
            if not pending:
                time.sleep(0.05)
                return self.proc.poll() is None
        return False

    def ioctl(self, *args, **kw):
        return run_tool("swtpm_ioctl", *self.ctrl_args(), *args, **kw)

    def bios(self, *args, **kw):
        extra = ["--tpm2"] if self.tpm2 else []
        return run_tool("swtpm_bios", *self.data_args(), *extra, *args, **kw)

    def tpm_cmd(self, cmd):
        """Send one raw TPM command on a fresh data connection."""
        if self.transport == "tcp":
            s = socket.create_connection(("127.0.0.1", self.port),
                                         timeout=10)
        else:
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(10)
            s.connect(self.data_path)
        with s:
            s.sendall(cmd)
            resp = b""
            while len(resp) < 10 or len(resp) < struct.unpack(
                    ">I", resp[2:6])[0]:
                chunk = s.recv(4096)
                if not chunk:
                    break
                resp += chunk
        return resp

    def startup(self):
        """TPM_Startup(ST_CLEAR) / TPM2_Startup(SU_CLEAR); returns rc."""
        if self.tpm2:
            cmd = bytes.fromhex("80010000000c000001440000")
        else:
            cmd = bytes.fromhex("00c10000000c000000990001")
        return rc_of(self.tpm_cmd(cmd))

    def pcr_read(self, index):
        """PCR value: SHA-256 bank for TPM 2, SHA-1 for TPM 1.2."""
        if self.tpm2:
            sel = bytearray(3)
            sel[index // 8] |= 1 << (index % 8)
            body = struct.pack(">IHB", 1, 0x000B, 3) + bytes(sel)
            cmd = struct.pack(">HII", 0x8001, 10 + len(body), 0x17E) + body
            resp = self.tpm_cmd(cmd)
            assert rc_of(resp) == 0, resp.hex()
            # hdr 10, update counter 4, selection 10, count 4, size 2
            return resp[30:62]
        cmd = struct.pack(">HIII", 0x00C1, 14, 0x15, index)
        resp = self.tpm_cmd(cmd)
        assert rc_of(resp) == 0, resp.hex()
        return resp[10:30]

    def expect_drtm_pcr(self, data):
        """PCR 17 after the _TPM_Hash sequence over data."""
        h = hashlib.sha256 if self.tpm2 else hashlib.sha1
        return h(bytes(h().digest_size) + h(data).digest()).digest()

    def wait_exit(self, timeout=10):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stderr(self):
        try:
            return self.errfile.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.errfh.close()


def rc_of(resp):
    assert len(resp) >= 10, resp.hex()
    return struct.unpack(">I", resp[6:10])[0]


@pytest.fixture
def make_swtpm(tmp_path):
    """Factory: make_swtpm(tpm2, transport='tcp', running=True)."""
    servers = []

    def make(tpm2, transport="tcp", running=True, extra=()):
        d = tmp_path / ("swtpm%d" % len(servers))
        d.mkdir()
        srv = SwtpmServer(d, tpm2, transport, running, extra)
        servers.append(srv)
        return srv

    yield make
    for srv in servers:
        srv.stop()


@pytest.fixture
def need_swtpm():
    if not os.access(SWTPM, os.X_OK):
        pytest.skip("%s is not installed" % SWTPM)


class FakeServer:
    """A scripted TCP peer: for each connection, read one request, send the
    next canned reply (or a list of them, one per request), close.
    Records the requests it saw."""

    def __init__(self, replies):
        import threading
        self.replies = list(replies)
        self.requests = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.sock.settimeout(30)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        for reply in self.replies:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(10)
                # A list scripts several requests on one connection.
                for one in reply if isinstance(reply, list) else [reply]:
                    try:
                        self.requests.append(conn.recv(65536))
                        if one:
                            conn.sendall(one)
                    except OSError:
                        break

    def close(self):
        self.sock.close()
        self.thread.join(timeout=5)


@pytest.fixture
def fake_server():
    """Factory: fake_server([reply, ...]) -> FakeServer (closed after)."""
    made = []

    def make(replies):
        srv = FakeServer(replies)
        made.append(srv)
        return srv

    yield make
    for srv in made:
        srv.close()
