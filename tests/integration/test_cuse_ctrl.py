# SPDX-License-Identifier: BSD-3-Clause
"""Every control command of the CUSE device through raw ioctls, including
the error cases of docs/control-channel.md §4 and §6."""
import errno
import fcntl
import json
import os
import struct

import pytest

from helpers_cuse import (PTM, TPM2_GETRANDOM_8, TPM2_STARTUP_CLEAR, Dev,
                          cuse_tpm, rc_of, tpm2_ok)

pytestmark = pytest.mark.cuse

BAD_ORDINAL, BAD_LOCALITY, BAD_PARAMETER, FAIL = 0x0A, 0x3D, 0x03, 0x09


@pytest.fixture
def started(tmp_path):
    with cuse_tpm(tmp_path) as t:
        with t.open() as d:
            assert d.init() == 0
            assert rc_of(d.cmd(TPM2_STARTUP_CLEAR)) == 0
            yield t, d


def test_capabilities(tmp_path):
    with cuse_tpm(tmp_path) as t, t.open() as d:
        assert d.caps() == 0x16FFF


def test_commands_needing_a_running_tpm(tmp_path):
    with cuse_tpm(tmp_path) as t, t.open() as d:
        for name in ("HASH_START", "HASH_END", "CANCEL_TPM_CMD",
                     "STORE_VOLATILE"):
            assert d.res(name) == BAD_ORDINAL, name
        assert d.established()[0] == BAD_ORDINAL
        assert d.reset_established(3) == BAD_ORDINAL
        assert d.get_blob(1)[0] == BAD_ORDINAL
        # these work while stopped
        assert d.set_locality(1) == 0
        assert d.get_config() == (0, 0)
        assert d.set_buffersize(0)[0] == 0


def test_locality(started):
    t, d = started
    for loc in range(5):
        assert d.set_locality(loc) == 0
    assert d.set_locality(5) == BAD_LOCALITY
    assert d.set_locality(255) == BAD_LOCALITY
    assert d.set_locality(0) == 0
    assert rc_of(d.cmd(TPM2_GETRANDOM_8)) == 0


def test_reject_locality_4(tmp_path):
    with cuse_tpm(tmp_path, extra=["--locality", "reject-locality-4"]) as t:
        with t.open() as d:
            assert d.set_locality(3) == 0
            assert d.set_locality(4) == BAD_LOCALITY


def test_established_bit_and_hashing(started, tmp_path):
    t, d = started
    res, bit = d.established()
    assert res == 0 and bit == 0
    assert d.res("HASH_START") == 0
    assert d.hash_data(b"measured launch data") == 0
    assert d.res("HASH_END") == 0
    res, bit = d.established()
    assert res == 0 and bit == 1
    # reset only from locality 3 or 4
    assert d.reset_established(0) == BAD_LOCALITY
    assert d.reset_established(2) == BAD_LOCALITY
    assert d.reset_established(5) == BAD_LOCALITY
    assert d.reset_established(3) == 0
    assert d.established() == (0, 0)
    # PCR 17 now holds the D-RTM measurement: not the reset value
    d.close()
    out = tpm2_ok(["tpm2_pcrread", "sha256:17"], t.dev).decode().upper()
    assert "0X" + "F" * 64 not in out and "0X" + "0" * 64 not in out
    d.fd = os.open(t.dev, os.O_RDWR)


def test_hash_errors(started):
    t, d = started
    assert d.res("HASH_START") == 0
    # a length over 4096 is refused
    assert d.res("HASH_DATA", struct.pack("=I", 5000)) == FAIL
    assert d.res("HASH_END") == 0


def test_cancel_and_store_volatile(started):
    t, d = started
    assert d.res("CANCEL_TPM_CMD") == 0
    assert d.res("STORE_VOLATILE") == 0
    assert os.path.exists(os.path.join(t.state, "tpm2-00.volatilestate"))


def test_buffersize(started):
    t, d = started
    res, cur, mn, mx = d.set_buffersize(0)
    assert (res, cur, mn, mx) == (0, 4096, 2808, 4096)
    assert d.set_buffersize(3000)[0] == BAD_ORDINAL
    assert d.res("STOP") == 0
    assert d.set_buffersize(3000)[:2] == (0, 3000)
    assert d.set_buffersize(100)[:2] == (0, 2808)
    assert d.set_buffersize(100000)[:2] == (0, 4096)


def test_get_info(started):
    t, d = started
    res, tot, data = d.get_info(1)
    assert res == 0 and tot == len(data)
    assert data.endswith(b"\0")
    info = json.loads(data[:-1])
    assert info["TPMSpecification"]["family"] == "2.0"
    res, tot3, data3 = d.get_info(3)
    info = json.loads(data3[:-1])
    assert set(info) == {"TPMSpecification", "TPMAttributes"}
    # paging: from offset 10 the rest comes
    res, tot2, part = d.get_info(1, 10)
    assert res == 0 and tot2 == tot
    assert d.get_info(1, 5000)[0] == BAD_PARAMETER
    assert d.get_info(0)[2] == b"{}\0"


def test_lock_storage_and_config(started):
    t, d = started
    assert d.lock_storage(0) == 0
    assert d.get_config() == (0, 0)


def test_set_datafd_and_unknown_ioctls_are_einval(started):
    t, d = started
    for req in (PTM["SET_DATAFD"], (2 << 30) | (4 << 16) | (0x50 << 8) | 40,
                0x5401):
        with pytest.raises(OSError) as e:
            fcntl.ioctl(d.fd, req, bytearray(4), True)
        assert e.value.errno == errno.EINVAL


def test_stop_then_init_again(started):
    t, d = started
    assert d.res("STOP") == 0
    assert d.cmd(TPM2_GETRANDOM_8) == bytes.fromhex("80010000000a00000101")
    assert d.established()[0] == BAD_ORDINAL
    assert d.init() == 0
    assert rc_of(d.cmd(TPM2_STARTUP_CLEAR)) == 0
    assert rc_of(d.cmd(TPM2_GETRANDOM_8)) == 0


def test_set_stateblob_while_running_is_refused(started):
    t, d = started
    res, flags, blob = d.get_blob(1)
    assert res == 0 and len(blob) > 1000
    assert d.set_blob(1, blob) == BAD_ORDINAL
    assert rc_of(d.cmd(TPM2_GETRANDOM_8)) == 0


def test_get_missing_savestate_blob(started):
    t, d = started
    res, flags, blob = d.get_blob(3)
    assert res == 0x800 and blob == b""
    assert d.get_blob(7)[0] == BAD_PARAMETER


def test_blob_read_mode(started):
    """GET_STATEBLOB's read() continuation (docs/control-channel.md §7.5) gives
    the bytes the ioctl chunks give. A fresh TPM 2's permanent blob (~1.3 KB)
    fits in the first ioctl, so use the volatile one (~9 KB), which cannot."""
    t, d = started
    r = d.ioctl("GET_STATEBLOB", struct.pack("=III", 1, 2, 0))
    res, flags, tot, length = struct.unpack("=IIII", r[:16])
    assert res == 0 and length == 3072 and tot > 2 * 3072, (res, length, tot)
    data = r[16:16 + length]
    while len(data) < tot:
        chunk = os.read(d.fd, 1000)
        if not chunk:
            break
        data += chunk
    assert len(data) == tot
    # The whole migration blob: header version 2, size 10, totlen = tot.
    assert struct.unpack(">BBHHI", data[:10]) == (2, 1, 10, 4, tot)
    # Offsets past 0 reuse the same loaded blob: the ioctl path must agree.
    by_ioctl, off = data[:3072], 3072
    while off < tot:
        r = d.ioctl("GET_STATEBLOB", struct.pack("=III", 1, 2, off))
        res, _, _, length = struct.unpack("=IIII", r[:16])
        assert res == 0 and length > 0
        by_ioctl += r[16:16 + length]
        off += length
    assert data == by_ioctl


def test_shutdown_ends_the_daemon(tmp_path):
    with cuse_tpm(tmp_path) as t:
        with t.open() as d:
            assert d.init() == 0
            assert d.res("SHUTDOWN") == 0
        for _ in range(200):
            if not t.alive():
                break
            import time
            time.sleep(0.02)
        assert not t.alive()
        assert not os.path.exists(t.pidfile)


def test_sigterm_is_orderly(tmp_path):
    import signal
    import time
    with cuse_tpm(tmp_path) as t:
        with t.open() as d:
            assert d.init() == 0
            assert rc_of(d.cmd(TPM2_STARTUP_CLEAR)) == 0
        os.kill(t.pid, signal.SIGTERM)
        for _ in range(300):
            if not t.alive():
                break
            time.sleep(0.02)
        assert not t.alive()
        assert os.path.exists(os.path.join(t.state, "tpm2-00.permall"))


def test_interrupted_blob_transfer(started):
    """A SET_STATEBLOB transfer opened for write() streaming is aborted by
    a read() (EIO); the device then works normally again."""
    import struct as st
    t, d = started
    assert d.res("STOP") == 0
    # a first 0-length packet opens a write() transfer
    assert d.res("SET_STATEBLOB", st.pack("=III", 0, 1, 0)) == 0
    os.write(d.fd, b"partial blob bytes")
    with pytest.raises(OSError) as e:
        os.read(d.fd, 10)
    assert e.value.errno == errno.EIO
    assert d.init() == 0
    assert rc_of(d.cmd(TPM2_STARTUP_CLEAR)) == 0
    assert rc_of(d.cmd(TPM2_GETRANDOM_8)) == 0


def test_write_during_blob_read_mode_is_eio(started):
    t, d = started
    r = d.ioctl("GET_STATEBLOB", struct.pack("=III", 1, 2, 0))
    res, flags, tot, length = struct.unpack("=IIII", r[:16])
    assert res == 0 and tot > length      # volatile state > 3072 bytes
    with pytest.raises(OSError) as e:
        os.write(d.fd, TPM2_GETRANDOM_8)
    assert e.value.errno == errno.EIO
    # back in command mode
    assert rc_of(d.cmd(TPM2_GETRANDOM_8)) == 0
