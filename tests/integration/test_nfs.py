# SPDX-License-Identifier: BSD-3-Clause
"""TPM state on NFSv4 shared by two hosts (docs/shared-storage.md).

In the tests/vm guest, tests/vm/nfs-hosts runs the kernel's NFS server and
mounts its export twice, from two network namespaces: two NFS clients with
their own client id, lease and locks, as hosts A and B would have.  One
`swtpm socket` on A's mount and one on B's share a state: the storage lock
(an OFD lock, which the NFS client turns into an NFSv4 lock on the server)
must keep B out while A holds it, move with QEMU's migration sequence,
outlive neither a killed process nor a dead host's lease, and no write that
A acknowledged may be lost.  Marked `nfs`: `make vm-nfs-check` runs these
in the guest (root, its own network)."""
import os
import pathlib
import struct
import subprocess
import threading
import time

import pytest

import helpers_reliability as rh
import helpers_swtpm
from helpers_swtpm import rc_of, servers  # noqa: F401 (a fixture)

pytestmark = pytest.mark.nfs

ROOT = pathlib.Path(__file__).resolve().parents[2]
NFS_HOSTS = str(ROOT / "tests" / "vm" / "nfs-hosts")
LEASE = 10

CMD_INIT = 0x02
CMD_SHUTDOWN = 0x03
CMD_GET_STATEBLOB = 0x0C
CMD_SET_STATEBLOB = 0x0D
CMD_STOP = 0x0E
CMD_SET_BUFFERSIZE = 0x11
TPM_FAIL = 9
TPM_RETRY = 0x800
NV_INDEX = 0x01500040
BLOB_PERMANENT, BLOB_VOLATILE, BLOB_SAVESTATE = 1, 2, 3
DIGEST = bytes(range(32))


def nfs_hosts(*args):
    p = subprocess.run([NFS_HOSTS] + [str(a) for a in args],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, "%s %s: %s%s" % (NFS_HOSTS, args, p.stdout,
                                               p.stderr)
    return p.stdout


class Hosts:
    """The export and the two hosts' mounts of it."""

    def __init__(self, base):
        self.export = base / "export"
        self.a = base / "hostA"
        self.b = base / "hostB"
        nfs_hosts("up", self.export, self.a, self.b, LEASE)
        # The server starts in its grace period, where it grants no new
        # lock: wait for the end (one lease) so the tests time only theirs.
        self.wait_lockable(self.a / ".probe", 4 * LEASE)

    @staticmethod
    def wait_lockable(path, timeout):
        helpers_swtpm.wait_lockable(path, timeout,
                                    "NFS server still in its grace period",
                                    interval=0.5)

    def state(self, name, backend="dir"):
        """(--tpmstate on A, --tpmstate on B) for one shared state."""
        if backend == "dir":
            (self.a / name).mkdir()
            return ("dir=%s" % (self.a / name), "dir=%s" % (self.b / name))
        (self.a / name).write_bytes(b"")
        return ("backend-uri=file://%s" % (self.a / name),
                "backend-uri=file://%s" % (self.b / name))


@pytest.fixture(scope="session")
def hosts(tmp_path_factory):
    if os.geteuid() != 0 or not os.path.isdir("/sys/module/nfsd"):
        pytest.fail("the nfs tests run as root in the tests/vm guest: "
                    "make vm-nfs-check")
    return Hosts(tmp_path_factory.mktemp("nfs"))


def res(b):
    assert len(b) >= 4, b.hex()
    return struct.unpack(">I", b[:4])[0]


def init(srv, flags=0):
    return res(srv.ctrl(CMD_INIT, struct.pack(">I", flags)))


def tpm(srv, s, cmd):
    resp = srv.tpm_cmd(cmd, s)
    assert len(resp) >= 10, "no TPM response\n%s" % srv
    return resp


def define_and_write(srv, data):
    with srv.connect_data() as s:
        assert rc_of(tpm(srv, s, rh.startup_clear())) == 0
        assert rc_of(tpm(srv, s, rh.nv_define(NV_INDEX, len(data)))) == 0
        assert rc_of(tpm(srv, s, rh.nv_write(NV_INDEX, data))) == 0


def read_nv(srv, size=8, startup=True):
    with srv.connect_data() as s:
        if startup:
            assert rc_of(tpm(srv, s, rh.startup_clear())) == 0
        resp = tpm(srv, s, rh.nv_read(NV_INDEX, size))
    assert rc_of(resp) == 0, resp.hex()
    return rh.nv_read_data(resp)


def nv_on(servers, name, tpmstate):
    """NV_INDEX as a fresh emulator on tpmstate reads it."""
    c = servers(name, tpmstate)
    try:
        assert init(c) == 0, str(c)
        return read_nv(c)
    finally:
        c.stop()


def in_use_message(srv, backend):
    if backend == "dir":
        return "in use by process %d" % srv.proc.pid
    return "in use by another process"


# a. ------------------------------------------------------------------------

@pytest.mark.parametrize("backend", ["dir", "file"])
def test_nfs_second_host_cannot_take_the_lock(hosts, servers, backend):
    on_a, on_b = hosts.state("lock-" + backend, backend)
    a = servers("a", on_a)
    assert init(a) == 0, str(a)
    define_and_write(a, b"AAAAAAAA")
    b = servers("b", on_b)
    assert init(b) == TPM_FAIL, str(b)
    assert in_use_message(a, backend) in b.stderr(), str(b)
    b.stop()
    # A still owns the state and goes on writing it.
    with a.connect_data() as s:
        assert rc_of(tpm(a, s, rh.nv_write(NV_INDEX, b"CCCCCCCC"))) == 0
    assert a.terminate() == 0, str(a)
    assert nv_on(servers, "check", on_b) == b"CCCCCCCC"


# b. ------------------------------------------------------------------------

def get_blob(srv, btype):
    """QEMU's GET_STATEBLOB: (flags, blob); the blob is b"" when absent."""
    with srv.connect_ctrl(timeout=30) as s:
        s.sendall(struct.pack(">IIII", CMD_GET_STATEBLOB, 1, btype, 0))
        head = b""
        while len(head) < 16:
            chunk = s.recv(16 - len(head))
            assert chunk, "GET_STATEBLOB %d: connection closed" % btype
            head += chunk
        rc, flags, total, length = struct.unpack(">IIII", head)
        data = b""
        while len(data) < length:
            chunk = s.recv(length - len(data))
            assert chunk, "GET_STATEBLOB %d: short blob" % btype
            data += chunk
    if rc & TPM_RETRY:
        return 0, b""
    assert rc == 0 and total == length, (btype, rc, total, length)
    return flags, data


def set_blob(srv, btype, flags, blob):
    with srv.connect_ctrl(timeout=30) as s:
        s.sendall(struct.pack(">IIII", CMD_SET_STATEBLOB, flags & 2, btype,
                              len(blob)) + blob)
        return res(s.recv(4))


def migrate_like_qemu(servers, on_a, on_b):
    """QEMU's shared-storage migration of a TPM from state on_a (host A)
    to on_b (host B), with libvirt's options for a state on a shared
    filesystem (qemu_tpm.c): A defines and writes an NV index and extends
    PCR 16; B goes on with both and writes the index; A's QEMU then quits.
    The two servers, A stopped."""
    a = servers("a", on_a, extra=["--migration", "release-lock-outgoing"])
    b = servers("b", on_b,
                extra=["--migration", "release-lock-outgoing,incoming"])
    assert init(a) == 0, str(a)
    define_and_write(a, b"AAAAAAAA")
    with a.connect_data() as s:
        assert rc_of(tpm(a, s, rh.pcr_extend(16, DIGEST))) == 0
        pcr16 = rh.pcr_read_digest(tpm(a, s, rh.pcr_read(16)))
    assert pcr16 != bytes(32)

    blobs = [(t,) + get_blob(a, t)
             for t in (BLOB_PERMANENT, BLOB_VOLATILE, BLOB_SAVESTATE)]
    assert blobs[0][2] and blobs[1][2], "no permanent or volatile blob"
    assert res(b.ctrl(CMD_STOP)) == 0
    for btype, flags, blob in blobs:
        assert set_blob(b, btype, flags, blob) == 0, str(b)
    assert res(b.ctrl(CMD_SET_BUFFERSIZE, struct.pack(">I", 4096),
                      resp_len=16)) == 0
    assert init(b, flags=1) == 0, str(b)

    # The guest runs on at B: PCRs and NV as they were, and B writes.
    with b.connect_data() as s:
        assert rh.pcr_read_digest(tpm(b, s, rh.pcr_read(16))) == pcr16
        assert rc_of(tpm(b, s, rh.nv_write(NV_INDEX, b"BBBBBBBB"))) == 0
    assert read_nv(b, startup=False) == b"BBBBBBBB"
    # The source's QEMU quits: A must not write its older state now.
    assert res(a.ctrl(CMD_SHUTDOWN)) == 0
    assert a.wait_exit(20) is not None or a.terminate() == 0, str(a)
    return a, b


def test_nfs_qemu_migration_moves_the_lock(hosts, servers):
    """QEMU's shared-storage migration, replayed on the control channels
    (QEMU's tpm_emulator backend: the source's pre_save fetches the three
    blobs; the destination's post_load stops, sets them, sets the buffer
    size and INITs with the volatile state deleted after reading; the
    source's QEMU then quits with SHUTDOWN)."""
    on_a, on_b = hosts.state("migrate")
    a, b = migrate_like_qemu(servers, on_a, on_b)
    # The lock is B's: a third emulator on A's host is refused.
    probe = servers("probe", on_a)
    assert init(probe) == TPM_FAIL, str(probe)
    assert "in use by process %d" % b.proc.pid in probe.stderr()
    probe.stop()
    # SIGKILL: B's own exit must not be what leaves BBBBBBBB on disk.
    b.stop()
    assert nv_on(servers, "check", on_a) == b"BBBBBBBB"


# c. ------------------------------------------------------------------------

def test_nfs_killed_writer_keeps_acknowledged_writes(hosts, servers):
    on_a, on_b = hosts.state("kill")
    a = servers("a", on_a)
    assert init(a) == 0, str(a)
    define_and_write(a, struct.pack(">Q", 0))
    acked = [0]
    stop = threading.Event()

    def writer():
        try:
            with a.connect_data() as s:
                n = 0
                while not stop.is_set():
                    n += 1
                    resp = a.tpm_cmd(rh.nv_write(NV_INDEX,
                                                 struct.pack(">Q", n)), s)
                    if len(resp) < 10 or rc_of(resp) != 0:
                        return
                    acked[0] = n
        except OSError:
            return

    t = threading.Thread(target=writer)
    t.start()
    deadline = time.monotonic() + 30
    while acked[0] < 20 and time.monotonic() < deadline:
        time.sleep(0.05)
    a.proc.kill()
    a.proc.wait()
    stop.set()
    t.join(30)
    assert acked[0] >= 20, "only %d writes in 30 s\n%s" % (acked[0], a)
    # The process is gone, so is its lock: B takes it at once.
    b = servers("b", on_b)
    assert init(b) == 0, str(b)
    got = struct.unpack(">Q", read_nv(b))[0]
    # The last acknowledged write, or the one A was doing when it died.
    assert got in (acked[0], acked[0] + 1), (got, acked[0])


# d. ------------------------------------------------------------------------

@pytest.mark.parametrize("backend", ["dir", "file"])
def test_nfs_dead_host_loses_the_lock_after_its_lease(hosts, servers,
                                                      backend, monkeypatch):
    on_a, on_b = hosts.state("lease-" + backend, backend)
    # B's open of a file:// state may wait for the server to recall A's
    # delegation, which only A's expired lease ends.
    monkeypatch.setattr(helpers_swtpm, "START_TIMEOUT", 6 * LEASE)
    a = servers("a", on_a)
    assert init(a) == 0, str(a)
    define_and_write(a, b"AAAAAAAA")
    nfs_hosts("cut", "A")
    try:
        start = time.monotonic()
        n = 0
        while True:
            n += 1
            b = servers("b%d" % n, on_b)
            rc = init(b)
            if rc == 0:
                break
            assert rc == TPM_FAIL, str(b)
            b.stop()
            assert time.monotonic() - start < 6 * LEASE, \
                "B never got the lock of the cut host A\n%s" % b
            time.sleep(1)
        took = time.monotonic() - start
        # Not before A's lease has run out.
        assert took >= LEASE - 1, took
        assert read_nv(b) == b"AAAAAAAA"
        with b.connect_data() as s:
            assert rc_of(tpm(b, s, rh.nv_write(NV_INDEX, b"BBBBBBBB"))) == 0
    finally:
        nfs_hosts("heal", "A")
    # A comes back and is asked to write: it must not.
    try:
        with a.connect_data(timeout=60) as s:
            s.settimeout(60)
            resp = a.tpm_cmd(rh.nv_write(NV_INDEX, b"XXXXXXXX"), s)
        ok = len(resp) >= 10 and rc_of(resp) == 0
    except OSError:
        ok = False
    assert not ok, "A wrote after losing its lease\n%s" % a
    if backend == "dir":
        assert "its lock is lost" in a.stderr(), str(a)
    a.stop()
    b.stop()
    assert nv_on(servers, "check", on_b) == b"BBBBBBBB"


# e. ------------------------------------------------------------------------

def test_nfs_acknowledged_writes_survive_a_server_restart(hosts, servers):
    on_a, on_b = hosts.state("restart")
    a = servers("a", on_a)
    assert init(a) == 0, str(a)
    define_and_write(a, b"AAAAAAAA")
    nfs_hosts("restart")
    # A's client reclaims its open and lock in the grace period and A's
    # next write goes through (hard mount: it waits for the server).
    with a.connect_data(timeout=60) as s:
        s.settimeout(60)
        assert rc_of(tpm(a, s, rh.nv_write(NV_INDEX, b"DDDDDDDD"))) == 0
    a.stop()    # SIGKILL: no shutdown write of its own
    hosts.wait_lockable(hosts.b / ".probe", 4 * LEASE)
    assert nv_on(servers, "check", on_b) == b"DDDDDDDD"
