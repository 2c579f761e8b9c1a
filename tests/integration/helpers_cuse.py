# SPDX-License-Identifier: BSD-3-Clause
"""Helpers for CUSE integration tests: start/stop swtpm_cuse, issue the
control ioctls directly (host byte order structs, docs/control-channel.md §2 and
§5), and send raw TPM commands through write()/read()."""
import contextlib
import fcntl
import itertools
import os
import shlex
import signal
import struct
import subprocess
import time

from conftest import tool

_seq = itertools.count()

IOC_READ, IOC_WRITE = 2, 1


def _ioc(direction, nr, size):
    return (direction << 30) | (size << 16) | (0x50 << 8) | nr


PTM = {
    "GET_CAPABILITY": _ioc(IOC_READ, 0, 8),
    "INIT": _ioc(IOC_READ | IOC_WRITE, 1, 4),
    "SHUTDOWN": _ioc(IOC_READ, 2, 4),
    "GET_TPMESTABLISHED": _ioc(IOC_READ, 3, 8),
    "SET_LOCALITY": _ioc(IOC_READ | IOC_WRITE, 4, 4),
    "HASH_START": _ioc(IOC_READ, 5, 4),
    "HASH_DATA": _ioc(IOC_READ | IOC_WRITE, 6, 4100),
    "HASH_END": _ioc(IOC_READ, 7, 4),
    "CANCEL_TPM_CMD": _ioc(IOC_READ, 8, 4),
    "STORE_VOLATILE": _ioc(IOC_READ, 9, 4),
    "RESET_TPMESTABLISHED": _ioc(IOC_READ | IOC_WRITE, 10, 4),
    "GET_STATEBLOB": _ioc(IOC_READ | IOC_WRITE, 11, 3088),
    "SET_STATEBLOB": _ioc(IOC_READ | IOC_WRITE, 12, 3084),
    "STOP": _ioc(IOC_READ, 13, 4),
    "GET_CONFIG": _ioc(IOC_READ, 14, 8),
    "SET_DATAFD": _ioc(IOC_READ, 15, 4),
    "SET_BUFFERSIZE": _ioc(IOC_READ | IOC_WRITE, 16, 16),
    "GET_INFO": _ioc(IOC_READ | IOC_WRITE, 17, 3088),
    "LOCK_STORAGE": _ioc(IOC_READ | IOC_WRITE, 18, 4),
}

TPM2_STARTUP_CLEAR = bytes.fromhex("80010000000c000001440000")
TPM2_GETRANDOM_8 = bytes.fromhex("80010000000c0000017b0008")
TPM12_STARTUP_CLEAR = bytes.fromhex("00c10000000c000000990001")
TPM12_GETRANDOM_8 = bytes.fromhex("00c10000000e0000004600000008")


def rc_of(resp):
    """TPM response code of a raw response."""
    return struct.unpack(">I", resp[6:10])[0]


class Dev:
    """An open /dev/NAME with ioctl and raw command helpers."""

    def __init__(self, path):
        self.path = path
        self.fd = os.open(path, os.O_RDWR)

    def close(self):
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def ioctl(self, name, payload=b"", size=None):
        """Issue PTM_<name>; returns the reply buffer (bytes)."""
        nr = PTM[name]
        size = (nr >> 16) & 0x3fff if size is None else size
        buf = bytearray(payload.ljust(size, b"\0"))
        fcntl.ioctl(self.fd, nr, buf, True)
        return bytes(buf)

    def res(self, name, payload=b""):
        """Issue a command and return its 32-bit result code."""
        return struct.unpack("=I", self.ioctl(name, payload)[:4])[0]

    def caps(self):
        return struct.unpack("=Q", self.ioctl("GET_CAPABILITY"))[0]

    def init(self, flags=0):
        return self.res("INIT", struct.pack("=I", flags))

    def set_locality(self, loc):
        return self.res("SET_LOCALITY", struct.pack("=B3x", loc))

    def reset_established(self, loc):
        return self.res("RESET_TPMESTABLISHED", struct.pack("=B3x", loc))

    def established(self):
        res, bit = struct.unpack("=IB3x", self.ioctl("GET_TPMESTABLISHED"))
        return res, bit

    def hash_data(self, data):
        return self.res("HASH_DATA", struct.pack("=I", len(data)) + data)

    def get_config(self):
        return struct.unpack("=II", self.ioctl("GET_CONFIG"))

    def set_buffersize(self, size):
        return struct.unpack("=IIII", self.ioctl(
            "SET_BUFFERSIZE", struct.pack("=I", size)))

    def get_info(self, flags, offset=0):
        r = self.ioctl("GET_INFO", struct.pack("=QII", flags, offset, 0))
        res, tot, length = struct.unpack("=III", r[:12])
        return res, tot, r[12:12 + length]

    def lock_storage(self, retries):
        return self.res("LOCK_STORAGE", struct.pack("=I", retries))

    def get_blob(self, btype, decrypted=True):
        """Whole blob by 3072-byte ioctl chunks: (result, flags, bytes)."""
        data, off = b"", 0
        while True:
            r = self.ioctl("GET_STATEBLOB", struct.pack(
                "=III", 1 if decrypted else 0, btype, off))
            res, flags, tot, length = struct.unpack("=IIII", r[:16])
            if res:
                return res, flags, data
            data += r[16:16 + length]
            off += length
            if off >= tot or length == 0:
                return res, flags, data

    def set_blob(self, btype, blob, flags=0):
        """Send a blob in 3072-byte packets; returns the final result."""
        off = 0
        while True:
            chunk = blob[off:off + 3072]
            res = self.res("SET_STATEBLOB", struct.pack(
                "=III", flags, btype, len(chunk)) + chunk)
            off += len(chunk)
            if res or len(chunk) < 3072:
                return res

    def cmd(self, data, bufsize=4096):
        """Send one TPM command; return the whole response."""
        os.write(self.fd, data)
        return os.read(self.fd, bufsize)


def _wait_gone(pid, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.02)
    return False


class CuseTPM:
    """A swtpm_cuse daemon on /dev/<name> with its own state dir."""

    def __init__(self, tmp_path, tpm2=True, name=None, state=None,
                 extra=(), log_level=2, tpmstate=None):
        """tpmstate: another --tpmstate value (backend-uri=file://...)."""
        self.name = name or "vtpm-t%d-%d" % (os.getpid(), next(_seq))
        self.dev = "/dev/" + self.name
        self.state = str(state or (tmp_path / ("state-" + self.name)))
        if tpmstate is None:
            os.makedirs(self.state, exist_ok=True)
        self.log = str(tmp_path / (self.name + ".log"))
        self.pidfile = str(tmp_path / (self.name + ".pid"))
        self.args = [tool("swtpm_cuse"), "-n", self.name,
                     "--tpmstate", tpmstate or "dir=" + self.state,
                     "--log", "file=%s,level=%d" % (self.log, log_level),
                     "--pid", "file=" + self.pidfile]
        if tpm2:
            self.args.append("--tpm2")
        self.args += list(extra)
        self.pid = None

    def start(self, check=True):
        p = subprocess.run(self.args, capture_output=True, text=True,
                           timeout=60)
        self.proc = p
        if check:
            assert p.returncode == 0, (
                "swtpm_cuse failed (%d): %s\nrerun: %s\nlog: %s" % (
                    p.returncode, p.stderr, shlex.join(self.args),
                    self.read_log()))
            assert os.path.exists(self.dev), "device missing after return"
            with open(self.pidfile) as f:
                self.pid = int(f.read())
        return p

    def open(self):
        return Dev(self.dev)

    def read_log(self):
        try:
            with open(self.log) as f:
                return f.read()
        except OSError:
            return ""

    def alive(self):
        if not self.pid:
            return False
        try:
            os.kill(self.pid, 0)
            return True
        except ProcessLookupError:
            return False

    def stop(self):
        """Orderly shutdown through PTM_SHUTDOWN (falls back to SIGTERM)."""
        if not self.alive():
            return
        try:
            with self.open() as d:
                d.res("SHUTDOWN")
        except OSError:
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                return          # it went away by itself meanwhile
        if not _wait_gone(self.pid):
            os.kill(self.pid, signal.SIGKILL)
            _wait_gone(self.pid)
            raise AssertionError("swtpm_cuse did not exit on shutdown")

    def kill(self, sig=signal.SIGKILL):
        if self.alive():
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                return
            _wait_gone(self.pid)

    def check_log_clean(self):
        """No sanitizer report or seccomp violation in the log."""
        log = self.read_log()
        for bad in ("seccomp:", "AddressSanitizer", "runtime error:"):
            assert bad not in log, log


@contextlib.contextmanager
def cuse_tpm(tmp_path, **kw):
    t = CuseTPM(tmp_path, **kw)
    t.start()
    try:
        yield t
    finally:
        try:
            t.stop()
        finally:
            t.kill()
        t.check_log_clean()


def tpm2(args, dev, **kw):
    """Run a tpm2-tools command against a device; returns CompletedProcess."""
    cmd = [args[0], "-T", "device:" + dev] + list(args[1:])
    return subprocess.run(cmd, capture_output=True, timeout=120, **kw)


def tpm2_ok(args, dev, **kw):
    p = tpm2(args, dev, **kw)
    assert p.returncode == 0, "%s failed: %s" % (
        shlex.join(args), p.stderr.decode(errors="replace"))
    return p.stdout
