# SPDX-License-Identifier: BSD-3-Clause
"""The file:// state backend of `swtpm socket` (docs/state.md §2.2, §8):
one regular file or block device (a loop device here) in upstream's
linear layout, read and written both ways with Debian's swtpm 0.7.1,
swtpm_setup into it, the lock on the file, hostile headers (refused,
file untouched), and SIGKILL during NV writes (every acknowledged write
survives, and the file still loads in upstream's swtpm)."""
import hashlib
import json
import random
import struct
import subprocess
import threading

import pytest

from conftest import tool
from helpers_socket import SwtpmServer, need_swtpm  # noqa: F401 (fixture)
from helpers_swtpm import OurSwtpm, rc_of, serve_on_socketpair
import helpers_reliability as rh

NV_INDEX = 0x01500020
HDR_LEN = 192
MAGIC = 0x737774706d6c696e


@pytest.fixture
def loopdev(tmp_path):
    """A 1 MiB zeroed loop device, detached afterwards."""
    img = tmp_path / "disk.img"
    img.write_bytes(bytes(1 << 20))
    dev = subprocess.run(["losetup", "-f", "--show", str(img)],
                         capture_output=True, text=True, check=True)
    dev = dev.stdout.strip()
    yield dev
    subprocess.run(["losetup", "-d", dev], check=False)


@pytest.fixture(params=["file", "loop"])
def target(request, tmp_path):
    """The state: a new regular file or a fresh loop device."""
    if request.param == "file":
        return str(tmp_path / "tpm2.state")
    return request.getfixturevalue("loopdev")


def uri(path):
    return "backend-uri=file://%s" % path


def ours(tmp_path, name, path, **kw):
    d = tmp_path / name
    d.mkdir()
    return OurSwtpm(d, tpmstate=uri(path), **kw)


def upstream(tmp_path, name, path):
    d = tmp_path / name
    d.mkdir()
    return SwtpmServer(d, True, tpmstate=uri(path))


def nv_write(srv, data, define=False, start=True):
    """(Startup, define,) write: one command per connection, which both
    our OurSwtpm and the peer's SwtpmServer offer."""
    if start:
        assert rc_of(srv.tpm_cmd(rh.startup_clear())) == 0
    if define:
        assert rc_of(srv.tpm_cmd(rh.nv_define(NV_INDEX, 8))) == 0
    return rc_of(srv.tpm_cmd(rh.nv_write(NV_INDEX, data)))


def nv_read(srv, start=True):
    if start:
        assert rc_of(srv.tpm_cmd(rh.startup_clear())) == 0
    resp = srv.tpm_cmd(rh.nv_read(NV_INDEX, 8))
    assert rc_of(resp) == 0, resp.hex()
    return rh.nv_read_data(resp)


def read_then_write(tmp_path, name, target, want, data):
    """Ours reads want from the NV index, then writes data; the stopped
    server, for its stderr."""
    srv = ours(tmp_path, name, target)
    try:
        assert nv_read(srv) == want
        assert nv_write(srv, data, start=False) == 0
    finally:
        srv.stop()
    return srv


def upstream_reads(tmp_path, name, target, want):
    """Debian's swtpm on target reads want from the NV index."""
    up = upstream(tmp_path, name, target)
    try:
        assert nv_read(up) == want
    finally:
        up.stop()


def header(path):
    with open(path, "rb") as f:
        h = f.read(HDR_LEN)
    magic, version, _, hdrsize = struct.unpack("<QBBH", h[:12])
    entries = [struct.unpack("<III", h[12 + 12 * i:24 + 12 * i])
               for i in range(15)]
    return magic, version, hdrsize, entries


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def test_interop_both_ways(tmp_path, target, need_swtpm):
    up = upstream(tmp_path, "up1", target)
    try:
        assert nv_write(up, b"upstream", define=True) == 0
    finally:
        up.stop()
    magic, version, hdrsize, entries = header(target)
    assert (magic, version, hdrsize) == (MAGIC, 1, HDR_LEN)
    assert entries[0][0] == HDR_LEN
    # Upstream's object has no checksum record of ours (state.md §8.5):
    # ours loads it as it is and adds one at its first write.
    with open(target, "rb") as f:
        f.seek(entries[0][0] + entries[0][1] - REC_LEN)
        assert f.read(2) != b"ss"

    srv = read_then_write(tmp_path, "ours", target, b"upstream", b"ours!!!!")
    srv.check_stderr()
    magic, version, hdrsize, entries = header(target)
    assert (magic, version, hdrsize) == (MAGIC, 1, HDR_LEN)
    # Packed after the header; nothing else in the table.
    assert entries[0][0] == HDR_LEN and entries[0][1] <= entries[0][2]
    assert all(e == (0, 0, 0) for e in entries[3:])
    assert all(ok for _, ok in permall_copies(target))

    upstream_reads(tmp_path, "up2", target, b"ours!!!!")


def assert_ek_persistent(up):
    """Debian's swtpm on our state: after Startup, tpm2_getcap lists the
    EK that swtpm_setup made persistent at 0x81010001."""
    assert rc_of(up.tpm_cmd(rh.startup_clear())) == 0
    out = subprocess.run(["tpm2_getcap", "-T", up.tcti(),
                          "handles-persistent"],
                         capture_output=True, text=True, timeout=30)
    assert "0x81010001" in out.stdout, out.stdout + out.stderr


def test_setup_into_file_loads_in_upstream(tmp_path, target, need_swtpm):
    xdg = tmp_path / "xdg"
    xdg.mkdir()
    env = {"XDG_CONFIG_HOME": str(xdg), "PATH": "/usr/bin:/bin"}
    p = subprocess.run([tool("swtpm_setup"), "--tpm2", "--tpm-state",
                        "file://%s" % target, "--createek"],
                       capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    p = subprocess.run([tool("swtpm_setup"), "--tpm2", "--tpm-state",
                        "file://%s" % target, "--createek"],
                       capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 1 and "existing TPM state" in p.stderr, p.stderr
    before = digest(target)
    p = subprocess.run([tool("swtpm_setup"), "--tpm2", "--tpm-state",
                        "file://%s" % target, "--createek",
                        "--not-overwrite"],
                       capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 0 and digest(target) == before
    up = upstream(tmp_path, "up", target)
    try:
        assert_ek_persistent(up)
    finally:
        up.stop()


REC_LEN = 74     # our checksum record ending each object (state.md §8.5)


def permall_copies(path):
    """The permall object after the header and its twin, each with
    whether it matches its checksum record: [(offset, intact), ...]."""
    entry = header(path)[3][0]
    off, length = entry[0], entry[1]
    with open(path, "rb") as f:
        f.seek(off)
        obj = f.read(length)
        rec = obj[-REC_LEN:]
        tag, vlen, version = struct.unpack(">HII", rec[:10])
        assert (tag, vlen, version) == (0x7373, 68, 1), rec.hex()
        places = struct.unpack(">II", rec[34:42])
        assert off in places, (off, places)
        out = []
        for at in (off, places[1] if places[0] == off else places[0]):
            f.seek(at)
            b = f.read(length)
            out.append((at, hashlib.sha256(b[:-32]).digest() == b[-32:]))
    return out


def flip(path, off):
    with open(path, "r+b") as f:
        f.seek(off)
        b = f.read(1)[0] ^ 0x20
        f.seek(off)
        f.write(bytes([b]))


def define_and_write(tmp_path, target, data):
    """A new TPM in target with data in its NV index, written by ours."""
    srv = ours(tmp_path, "w", target)
    try:
        assert nv_write(srv, data, define=True) == 0
    finally:
        srv.stop()


def test_flipped_byte_loads_the_intact_copy(tmp_path, target, need_swtpm):
    """A byte flipped in the middle of permall, which libtpms would take
    into failure mode: ours loads the copy written with it, says so once,
    and its next write leaves both copies intact; Debian's swtpm reads
    the file after."""
    define_and_write(tmp_path, target, b"intact!!")
    (main, ok1), (twin, ok2) = permall_copies(target)
    assert ok1 and ok2 and twin > main
    length = header(target)[3][0][1]
    flip(target, main + length // 2)
    assert not permall_copies(target)[0][1]
    srv = read_then_write(tmp_path, "r", target, b"intact!!", b"written!")
    err = srv.stderr()
    msg = ("the permall object at offset %d of state file '%s' does not "
           "match its checksum: using its copy at offset %d"
           % (main, target, twin))
    assert err.count(msg) == 1, err
    assert all(ok for _, ok in permall_copies(target))
    upstream_reads(tmp_path, "up", target, b"written!")


def test_both_copies_damaged_refused_file_untouched(tmp_path, target):
    """Both copies damaged: the start fails, naming the file, both
    places and the fix, and the file keeps every byte."""
    define_and_write(tmp_path, target, b"12345678")
    (main, _), (twin, _) = permall_copies(target)
    flip(target, main + 300)
    flip(target, twin + 301)
    before = digest(target)
    bad = ours(tmp_path, "bad", target, wait=False)
    assert bad.wait_exit(30) == 1, str(bad)
    err = bad.stderr()
    assert ("the permall object at offset %d of state file '%s' does not "
            "match its checksum, and no intact copy of it is left (looked "
            "at offsets %d and %d); restore the file from a backup"
            % (main, target, main, twin)) in err, err
    assert digest(target) == before


def test_lock_refuses_second_daemon(tmp_path, target):
    first = ours(tmp_path, "first", target)
    try:
        assert nv_write(first, b"first..!", define=True) == 0
        second = ours(tmp_path, "second", target, wait=False)
        assert second.wait_exit(20) == 1, str(second)
        err = second.stderr()
        assert "cannot lock TPM state file '%s': it is in use by another " \
            "process" % target in err, err
        assert nv_read(first, start=False) == b"first..!"
    finally:
        first.stop()


@pytest.mark.parametrize("first_on", ["loop", "file"])
def test_lock_covers_a_loop_device_and_its_file(tmp_path, loopdev, first_on):
    """A loop device is a second name for its backing file: a daemon on
    either one keeps a daemon on the other out (before, both ran and the
    second one's writes were lost)."""
    img = str(tmp_path / "disk.img")
    names = {"loop": loopdev, "file": img}
    other = "file" if first_on == "loop" else "loop"
    first = ours(tmp_path, "first", names[first_on])
    try:
        assert nv_write(first, b"first..!", define=True) == 0
        second = ours(tmp_path, "second", names[other], wait=False)
        assert second.wait_exit(20) == 1, str(second)
        err = second.stderr()
        assert "cannot lock TPM state file '%s': it is in use by another " \
            "process" % names[other] in err, err
        assert nv_read(first, start=False) == b"first..!"
    finally:
        first.stop()


def test_loop_device_over_a_deleted_file_is_refused(tmp_path, loopdev):
    """The backing file cannot be locked when it is gone from its name:
    the start is refused, naming the device and the file."""
    img = tmp_path / "disk.img"
    img.unlink()
    bad = ours(tmp_path, "bad", loopdev, wait=False)
    assert bad.wait_exit(20) == 1, str(bad)
    err = bad.stderr()
    assert "state file '%s' is a loop device over '%s" % (loopdev, img) \
        in err, err
    assert "which cannot be opened to lock it as well" in err, err


def test_print_states(tmp_path, target):
    missing = tmp_path / "missing.state"
    p = subprocess.run([tool("swtpm"), "socket", "--tpm2", "--tpmstate",
                        uri(missing), "--print-states"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0 and json.loads(p.stdout)["states"] == []
    assert not missing.exists()     # upstream creates and formats it
    srv = ours(tmp_path, "ours", target)
    try:
        assert nv_write(srv, b"12345678", define=True) == 0
    finally:
        srv.stop()
    p = subprocess.run([tool("swtpm"), "socket", "--tpm2", "--tpmstate",
                        uri(target), "--print-states"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    states = json.loads(p.stdout)["states"]
    assert states[0]["name"] == "permall"
    assert states[0]["size"] == header(target)[3][0][1]


def put_entry(h, i, off, dlen, slen):
    return h[:12 + 12 * i] + struct.pack("<III", off, dlen, slen) + \
        h[24 + 12 * i:]


# Each takes the bytes of a good state file and returns a bad one.
BAD_FILES = {
    "truncated header": lambda b: b[:100],
    "bad magic": lambda b: b"X" + b[1:],
    "bad version": lambda b: b[:8] + b"\x07" + b[9:],
    "offset past the end": lambda b: put_entry(b, 0, len(b) + 4096, 16, 16),
    "data past the end": lambda b: put_entry(b, 0, HDR_LEN, len(b), 1 << 20),
    # passed the checks before: each NV write then copied 76 MiB
    "32 MiB section": lambda b: put_entry(
        b, 0, *struct.unpack("<II", b[12:20]), 32 << 20),
    "huge length": lambda b: put_entry(b, 0, HDR_LEN, 0xffffffff,
                                       0xffffffff),
    "offset in the header": lambda b: put_entry(b, 0, 8, 16, 16),
    "overlapping": lambda b: put_entry(b, 1, HDR_LEN + 8, 8, 8),
    "second TPM": lambda b: put_entry(b, 5, len(b) - 16, 16, 16),
}
REASONS = {
    "truncated header": "shorter than the 192-byte header",
    "bad magic": "magic",
    "bad version": "version",
    "offset past the end": "past the end",
    "data past the end": "past the end",
    "huge length": "larger than 1 MiB",
    "32 MiB section": "a section is larger than 1 MiB",
    "offset in the header": "inside the header",
    "overlapping": "overlap",
    "second TPM": "second TPM",
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_header_refused_file_untouched(tmp_path, case):
    path = tmp_path / "tpm2.state"
    srv = ours(tmp_path, "good", path)
    try:
        assert nv_write(srv, b"12345678", define=True) == 0
    finally:
        srv.stop()
    path.write_bytes(BAD_FILES[case](path.read_bytes()))
    before = digest(path)
    bad = ours(tmp_path, "bad", path, wait=False)
    assert bad.wait_exit(20) == 1, str(bad)
    err = bad.stderr()
    assert "state file '%s' has a bad header" % path in err, err
    assert REASONS[case] in err, err
    assert digest(path) == before


def test_sigkill_during_nv_writes(tmp_path, target, need_swtpm):
    """SIGKILL at random moments while NV writes go on: after each kill
    the file loads, in ours and in upstream's swtpm, with the last
    acknowledged value or the one in flight."""
    rng = random.Random(13)
    acked = sent = 0
    for rnd in range(6):
        srv = ours(tmp_path, "r%d" % rnd, target)
        try:
            if rnd == 0:
                assert nv_write(srv, struct.pack(">Q", 0), define=True) == 0
            else:
                got = struct.unpack(">Q", nv_read(srv))[0]
                assert got in (acked, sent), (got, acked, sent)
                acked = sent = got
            timer = threading.Timer(rng.uniform(0.02, 0.3), srv.proc.kill)
            timer.start()
            try:
                with srv.connect_data() as s:
                    while True:
                        sent = acked + 1
                        resp = srv.tpm_cmd(
                            rh.nv_write(NV_INDEX, struct.pack(">Q", sent)),
                            s)
                        # A short answer: the daemon died mid-command.
                        if len(resp) < 10 or rc_of(resp) != 0:
                            break
                        acked = sent
            except OSError:
                pass
            timer.join()
        finally:
            srv.stop()
    up = upstream(tmp_path, "up", target)
    try:
        got = struct.unpack(">Q", nv_read(up))[0]
        assert got in (acked, sent), (got, acked, sent)
    finally:
        up.stop()


def test_block_device_too_small(tmp_path):
    """A 4 KiB device cannot hold a TPM 2 state twice: the store fails
    with the reason, the TPM goes into failure mode as on a full disk,
    and what is on the device still loads."""
    img = tmp_path / "small.img"
    img.write_bytes(bytes(4096))
    dev = subprocess.run(["losetup", "-f", "--show", str(img)],
                         capture_output=True, text=True, check=True)
    dev = dev.stdout.strip()
    try:
        srv = ours(tmp_path, "small", dev)
        try:
            srv.tpm_cmd(rh.startup_clear())
            srv.tpm_cmd(rh.nv_define(NV_INDEX, 8))
        finally:
            srv.stop()
        assert "too small to hold the state twice; the previous state " \
            "is unchanged" in srv.stderr(), str(srv)
        p = subprocess.run([tool("swtpm"), "socket", "--tpm2", "--tpmstate",
                            uri(dev), "--print-states"],
                           capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, p.stderr
    finally:
        subprocess.run(["losetup", "-d", dev], check=False)


def test_setup_encrypted_file_loads_in_upstream(tmp_path, need_swtpm):
    """swtpm_setup --pwdfile into a file://: the objects are encrypted
    (header flags 0x09) and upstream opens them with the same key."""
    path = tmp_path / "enc.state"
    pw = tmp_path / "pw"
    pw.write_bytes(b"secret-passphrase")
    xdg = tmp_path / "xdg"
    xdg.mkdir()
    p = subprocess.run([tool("swtpm_setup"), "--tpm2", "--tpm-state",
                        "file://%s" % path, "--createek", "--pwdfile",
                        str(pw), "--cipher", "aes-256-cbc"],
                       capture_output=True, text=True, timeout=120,
                       env={"XDG_CONFIG_HOME": str(xdg),
                            "PATH": "/usr/bin:/bin"})
    assert p.returncode == 0, p.stdout + p.stderr
    data = path.read_bytes()
    assert data[HDR_LEN:HDR_LEN + 6] == bytes.fromhex("0201000a0009")
    d = tmp_path / "up"
    d.mkdir()
    up = SwtpmServer(d, True, tpmstate=uri(path), extra=[
        "--key", "pwdfile=%s,mode=aes-256-cbc" % pw])
    try:
        assert_ek_persistent(up)
    finally:
        up.stop()


def test_chardev_on_file(tmp_path):
    """`swtpm chardev --fd` with a file:// state writes the linear
    layout too."""
    path = tmp_path / "chardev.state"
    serve_on_socketpair("chardev", uri(path))
    magic, version, hdrsize, entries = header(path)
    assert (magic, version, hdrsize) == (MAGIC, 1, HDR_LEN)
    assert entries[0][0] == HDR_LEN and entries[0][1] > 0
