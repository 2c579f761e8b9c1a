# SPDX-License-Identifier: BSD-3-Clause
"""The socket control channel of our `swtpm socket` byte by byte
(docs/control-channel.md §5, §7.3, §7.4, §7.7, §7.9, §7.10): exact replies, size
rules, malformed and stalled clients, one client at a time, SET_DATAFD
with SCM_RIGHTS, terminate on control loss."""
import array
import hashlib
import socket
import struct
import threading
import time

import pytest

from helpers_swtpm import (TPM2_STARTUP, ctrl_cmd, rc_of, recv_exact,
                           swtpm_factory)  # noqa: F401 (fixture)

CMD_GET_CAPABILITY = 1
CMD_INIT = 2
CMD_GET_TPMESTABLISHED = 4
CMD_SET_LOCALITY = 5
CMD_HASH_START = 6
CMD_HASH_DATA = 7
CMD_HASH_END = 8
CMD_GET_STATEBLOB = 12
CMD_SET_STATEBLOB = 13
CMD_STOP = 14
CMD_SET_DATAFD = 16
CMD_GET_INFO = 18

TPM_BAD_PARAMETER = 3
TPM_FAIL = 9
TPM_BAD_ORDINAL = 10
TPM_IOERROR = 0x1F


def res(b):
    assert len(b) >= 4, b.hex()
    return struct.unpack(">I", b[:4])[0]


def closed_without_reply(s, timeout=3):
    s.settimeout(timeout)
    try:
        return s.recv(16) == b""
    except ConnectionResetError:
        return True


@pytest.mark.parametrize("tpm2,caps", [(True, 0x1FFFF), (False, 0x17FFF)])
@pytest.mark.parametrize("transport", ["tcp", "unix"])
def test_get_capability_bytes(swtpm_factory, tpm2, caps, transport):
    srv = swtpm_factory(tpm2=tpm2, transport=transport, running=False)
    assert srv.ctrl(CMD_GET_CAPABILITY, resp_len=8) == \
        struct.pack(">II", 0, caps)


def test_many_requests_on_one_connection(swtpm_factory):
    srv = swtpm_factory(running=False)
    with srv.connect_ctrl() as s:
        assert res(ctrl_cmd(s, CMD_GET_TPMESTABLISHED, resp_len=8)) == \
            TPM_BAD_ORDINAL     # not running yet
        assert ctrl_cmd(s, CMD_INIT, b"\0\0\0\0") == bytes(4)
        assert ctrl_cmd(s, CMD_GET_TPMESTABLISHED, resp_len=8) == bytes(8)
        assert ctrl_cmd(s, CMD_SET_LOCALITY, b"\x01") == bytes(4)
        assert ctrl_cmd(s, CMD_SET_LOCALITY, b"\x05\0\0\0") == \
            struct.pack(">I", 0x3D)
        assert ctrl_cmd(s, CMD_STOP) == bytes(4)
    assert srv.alive()


@pytest.mark.parametrize("code,body,want", [
    (CMD_INIT, b"\0\0\0\0\0", TPM_BAD_PARAMETER),      # INIT exactly 4
    (CMD_STOP, b"\0", TPM_BAD_PARAMETER),              # res-only: 0 bytes
    (CMD_HASH_START, b"\0\0\0\0", TPM_BAD_ORDINAL),     # running check first
    (0x99, b"", TPM_BAD_ORDINAL),                      # unknown code
    (0, b"", TPM_BAD_ORDINAL),
    (0xFFFFFFFF, b"x" * 100, TPM_BAD_ORDINAL),
    (CMD_GET_INFO, b"\0" * 8, TPM_BAD_PARAMETER),      # needs >= 16
    (CMD_SET_DATAFD, b"", TPM_BAD_PARAMETER),          # TCP: no fd
])
def test_malformed_requests_get_error_replies(swtpm_factory, code, body,
                                              want):
    srv = swtpm_factory(running=False)
    with srv.connect_ctrl() as s:
        assert res(ctrl_cmd(s, code, body)) == want
        # The connection still works afterwards.
        assert res(ctrl_cmd(s, CMD_GET_CAPABILITY, resp_len=8)) == 0


def test_set_datafd_over_tcp_without_fd_is_bad_parameter(swtpm_factory):
    srv = swtpm_factory(running=False, server=False)
    assert res(srv.ctrl(CMD_SET_DATAFD)) == TPM_BAD_PARAMETER


@pytest.mark.parametrize("partial", [b"\0\0", b"\0\0\0\x02\0\0"])
def test_stalled_request_is_dropped_and_others_served(swtpm_factory,
                                                      partial):
    srv = swtpm_factory(running=False)
    stalled = srv.connect_ctrl()
    stalled.sendall(partial)
    t0 = time.monotonic()
    # The stalled client loses its connection after ~500 ms, no reply...
    assert closed_without_reply(stalled)
    assert time.monotonic() - t0 < 4     # 500 ms plus slack for load
    stalled.close()
    # ...and the next client is served.
    assert srv.ctrl(CMD_GET_CAPABILITY, resp_len=8)[:4] == bytes(4)
    assert srv.alive()


def test_peer_closing_mid_request_changes_nothing(swtpm_factory):
    srv = swtpm_factory(running=True)
    s = srv.connect_ctrl()
    s.sendall(struct.pack(">I", CMD_INIT) + b"\0")
    s.close()
    time.sleep(0.2)
    assert srv.startup() == 0   # TPM still running, untouched
    assert srv.alive()


def test_second_control_client_waits_for_the_first(swtpm_factory):
    srv = swtpm_factory(running=False)
    first = srv.connect_ctrl()
    assert res(ctrl_cmd(first, CMD_GET_CAPABILITY, resp_len=8)) == 0
    second = srv.connect_ctrl()
    second.sendall(struct.pack(">I", CMD_GET_CAPABILITY))
    second.settimeout(1.0)
    with pytest.raises(socket.timeout):
        second.recv(8)
    # First is still served; second gets its turn once first leaves.
    assert res(ctrl_cmd(first, CMD_GET_CAPABILITY, resp_len=8)) == 0
    first.close()
    assert len(recv_exact(second, 8, timeout=5)) == 8
    second.close()


def test_terminate_on_control_loss(swtpm_factory):
    srv = swtpm_factory(running=True, transport="unix", ctrl=False,
                        extra=["--ctrl", "type=unixio,path=%s,terminate"
                               % "/dev/null/x"], wait=False)
    # (bad path first: a clear error and exit 1)
    assert srv.wait_exit() == 1
    assert "cannot create socket" in srv.stderr()
    srv2 = swtpm_factory(running=True, transport="unix", ctrl=False,
                         wait=False,
                         extra=["--ctrl", "type=unixio,path=%s,terminate"
                                % (srv.dir / "c2.sock")])
    srv2.ctrl_path = str(srv.dir / "c2.sock")
    srv2.has_ctrl = True
    srv2.wait_ready()   # this probe connection closing ends the process
    assert srv2.wait_exit() == 0


def test_shutdown_command_ends_process(swtpm_factory):
    srv = swtpm_factory(running=True, transport="unix")
    assert srv.ctrl(3) == bytes(4)
    assert srv.wait_exit() == 0


def _send_fd(ctrl, fd, code=CMD_SET_DATAFD):
    ctrl.sendmsg([struct.pack(">I", code)],
                 [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                   array.array("i", [fd]))])
    return recv_exact(ctrl, 4)


def test_set_datafd_scm_rights(swtpm_factory):
    # QEMU's set-up: only a Unix control channel, data via socketpair.
    srv = swtpm_factory(transport="unix", running=False, server=False)
    with srv.connect_ctrl() as ctrl:
        assert res(ctrl_cmd(ctrl, CMD_SET_DATAFD)) == TPM_BAD_PARAMETER
        ours, theirs = socket.socketpair()
        assert _send_fd(ctrl, theirs.fileno()) == bytes(4)
        theirs.close()
        other, other2 = socket.socketpair()
        # A second data fd while one is in use: TPM_IOERROR.
        assert res(_send_fd(ctrl, other2.fileno())) == TPM_IOERROR
        other.close()
        other2.close()
        assert ctrl_cmd(ctrl, CMD_INIT, b"\0\0\0\0") == bytes(4)
        assert rc_of(srv.tpm_cmd(TPM2_STARTUP, sock=ours)) == 0
        resp = srv.tpm_cmd(bytes.fromhex("80010000000c0000017b0010"),
                           sock=ours)
        assert rc_of(resp) == 0 and len(resp) == 10 + 2 + 16
        # The data end hangs up: the server keeps running and accepts a
        # new SET_DATAFD.
        ours.close()
        time.sleep(0.2)
        a, b = socket.socketpair()
        assert _send_fd(ctrl, b.fileno()) == bytes(4)
        b.close()
        assert rc_of(srv.tpm_cmd(bytes.fromhex("80010000000c0000017b0004"),
                                 sock=a)) == 0
        a.close()
    assert srv.alive()


def test_fd_passed_with_other_command_is_not_leaked(swtpm_factory):
    srv = swtpm_factory(transport="unix", running=False, server=False)
    with srv.connect_ctrl() as ctrl:
        a, b = socket.socketpair()
        ctrl.sendmsg([struct.pack(">I", CMD_GET_CAPABILITY)],
                     [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                       array.array("i", [b.fileno()]))])
        assert len(recv_exact(ctrl, 8)) == 8
        b.close()
        # The server closed its copy: our end sees EOF.
        a.settimeout(3)
        assert a.recv(1) == b""
        a.close()


def _pcr17_after(srv, data, chunks):
    with srv.connect_ctrl() as s:
        assert ctrl_cmd(s, CMD_HASH_START) == bytes(4)
        for c in chunks:
            assert ctrl_cmd(s, CMD_HASH_DATA,
                            struct.pack(">I", len(c)) + c) == bytes(4)
        assert ctrl_cmd(s, CMD_HASH_END) == bytes(4)
    pcrread = bytes.fromhex("8001000000140000017e" "00000001000b03000002")
    resp = srv.tpm_cmd(pcrread)
    assert rc_of(resp) == 0
    return resp[-32:]


def test_hash_data_streams_beyond_4096(swtpm_factory):
    srv = swtpm_factory(running=True)
    assert srv.startup() == 0
    data = bytes(range(256)) * 40       # 10240 bytes in one request
    got = _pcr17_after(srv, data, [data])
    h = hashlib.sha256
    assert got == h(bytes(32) + h(data).digest()).digest()


def test_hash_data_more_than_length_is_bad_parameter(swtpm_factory):
    srv = swtpm_factory(running=True)
    with srv.connect_ctrl() as s:
        assert ctrl_cmd(s, CMD_HASH_START) == bytes(4)
        assert res(ctrl_cmd(s, CMD_HASH_DATA, struct.pack(">I", 2) +
                            b"abcd")) == TPM_BAD_PARAMETER
        assert ctrl_cmd(s, CMD_HASH_END) == bytes(4)


def test_hash_data_peer_closes_early(swtpm_factory):
    srv = swtpm_factory(running=True)
    s = srv.connect_ctrl()
    assert ctrl_cmd(s, CMD_HASH_START) == bytes(4)
    s.sendall(struct.pack(">II", CMD_HASH_DATA, 100000) + b"x" * 5000)
    s.shutdown(socket.SHUT_WR)
    reply = recv_exact(s, 4)
    assert reply in (b"", struct.pack(">I", TPM_IOERROR))
    s.close()
    assert srv.ctrl(CMD_GET_CAPABILITY, resp_len=8)[:4] == bytes(4)


def _get_blob(s, btype, offset=0, flags=0):
    s.sendall(struct.pack(">IIII", CMD_GET_STATEBLOB, flags, btype, offset))
    hdr = recv_exact(s, 16)
    r, sflags, tot, length = struct.unpack(">IIII", hdr)
    return r, tot, length, recv_exact(s, length) if length else b""


def test_stateblob_wire_format_and_roundtrip(swtpm_factory):
    src = swtpm_factory(running=True)
    assert src.startup() == 0
    with src.connect_ctrl() as s:
        r, tot, length, perm = _get_blob(s, 1)
        assert r == 0 and tot == length == len(perm) > 1000
        # From an offset: all the remaining bytes, totlength == length.
        r, tot, length, tail = _get_blob(s, 1, offset=100)
        assert r == 0 and tot == length == len(perm) - 100
        assert tail == perm[100:]
        r, tot, length, _ = _get_blob(s, 1, offset=len(perm) + 5)
        assert (r, tot, length) == (0, 0, 0)
        r, tot, length, _ = _get_blob(s, 3)     # no savestate: 0x800
        assert (r, tot, length) == (0x800, 0, 0)
        r, tot, length, _ = _get_blob(s, 7)     # unknown type
        assert (r, tot, length) == (TPM_FAIL, 0, 0)
    dst = swtpm_factory(running=False, transport="unix")
    with dst.connect_ctrl() as s:
        # Header and body in separate writes, as QEMU does.
        s.sendall(struct.pack(">IIII", CMD_SET_STATEBLOB, 0, 1, len(perm)))
        time.sleep(0.1)
        s.sendall(perm)
        assert recv_exact(s, 4) == bytes(4)
        assert ctrl_cmd(s, CMD_INIT, b"\0\0\0\0") == bytes(4)
        # Running now: SET_STATEBLOB is refused, and the body is consumed
        # so the connection stays in step.
        s.sendall(struct.pack(">IIII", CMD_SET_STATEBLOB, 0, 1, len(perm))
                  + perm)
        assert res(recv_exact(s, 4)) == TPM_BAD_ORDINAL
        assert res(ctrl_cmd(s, CMD_GET_CAPABILITY, resp_len=8)) == 0
        r, tot, length, perm2 = _get_blob(s, 1)
        assert r == 0 and len(perm2) > 1000


def test_set_stateblob_too_large_fails_and_closes(swtpm_factory):
    srv = swtpm_factory(running=False)
    with srv.connect_ctrl() as s:
        s.sendall(struct.pack(">IIII", CMD_SET_STATEBLOB, 0, 1,
                              512 * 1024 + 1) + b"\0" * 1000)
        assert res(recv_exact(s, 4)) == TPM_FAIL
        assert closed_without_reply(s)
    assert srv.ctrl(CMD_GET_CAPABILITY, resp_len=8)[:4] == bytes(4)


def test_set_stateblob_cut_short(swtpm_factory):
    srv = swtpm_factory(running=False)
    s = srv.connect_ctrl()
    s.sendall(struct.pack(">IIII", CMD_SET_STATEBLOB, 0, 1, 20000) +
              b"\1" * 5000)
    s.shutdown(socket.SHUT_WR)
    reply = recv_exact(s, 4)
    assert reply in (b"", struct.pack(">I", TPM_BAD_PARAMETER))
    s.close()
    # Nothing was applied: INIT starts a fresh TPM.
    assert srv.ctrl(CMD_INIT, b"\0\0\0\0") == bytes(4)
    assert srv.startup() == 0


def test_get_info_variable_length(swtpm_factory):
    srv = swtpm_factory(running=False)
    with srv.connect_ctrl() as s:
        s.sendall(struct.pack(">IQII", CMD_GET_INFO, 1, 0, 0))
        hdr = recv_exact(s, 12)
        r, tot, length = struct.unpack(">III", hdr)
        assert r == 0 and tot == length
        body = recv_exact(s, length)
        assert body.startswith(b'{"TPMSpecification":{"family":"2.0"')
        assert body.endswith(b"}\0")


def test_connect_storm(swtpm_factory):
    srv = swtpm_factory(running=True, transport="unix")
    results = []

    def worker():
        try:
            with srv.connect_ctrl(timeout=20) as s:
                results.append(ctrl_cmd(s, CMD_GET_CAPABILITY, resp_len=8))
        except OSError as e:
            results.append(e)

    threads = [threading.Thread(target=worker) for _ in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    good = [r for r in results if isinstance(r, bytes) and len(r) == 8]
    # Every client is either served or cleanly refused by the backlog.
    assert len(results) == 40
    assert len(good) >= 1
    for r in results:
        assert isinstance(r, bytes) or isinstance(r, OSError)
    assert srv.alive()
    assert srv.startup() == 0
