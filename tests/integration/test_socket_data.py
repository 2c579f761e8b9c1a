# SPDX-License-Identifier: BSD-3-Clause
"""The TPM data path of our `swtpm socket` (docs/control-channel.md §8): the TCG
prefix, commands assembled by their size field, oversized and stalled
commands, disconnect/terminate modes, --fd and fd= channels, signals."""
import os
import signal
import socket
import struct
import subprocess
import time

import pytest

from conftest import tool
from helpers_socket import free_port_pair
from helpers_swtpm import (TPM2_GETRANDOM8, TPM2_STARTUP, rc_of,
                           recv_exact, serve_on_socketpair,
                           swtpm_factory)  # noqa: F401


def test_not_running_gets_fatal_response(swtpm_factory):
    srv = swtpm_factory(running=False)
    assert srv.tpm_cmd(TPM2_STARTUP) == bytes.fromhex(
        "80010000000a00000101")
    srv12 = swtpm_factory(tpm2=False, running=False)
    assert srv12.tpm_cmd(bytes.fromhex("00c10000000c000000990001")) == \
        bytes.fromhex("00c40000000a00000009")


def test_tcg_prefix(swtpm_factory):
    srv = swtpm_factory(running=True)
    with srv.connect_data() as s:
        s.sendall(struct.pack(">IBI", 8, 0, len(TPM2_STARTUP)) +
                  TPM2_STARTUP)
        size = struct.unpack(">I", recv_exact(s, 4))[0]
        assert size == 10
        assert recv_exact(s, 10) == bytes.fromhex("80010000000a00000000")
        assert recv_exact(s, 4) == bytes(4)
        # A plain command on the same connection is answered plainly.
        resp = srv.tpm_cmd(TPM2_GETRANDOM8, sock=s)
        assert rc_of(resp) == 0 and len(resp) == 20


def test_tcg_prefix_not_on_tpm12(swtpm_factory):
    srv = swtpm_factory(tpm2=False, running=True)
    with srv.connect_data() as s:
        s.sendall(struct.pack(">IBI", 8, 0, 12) +
                  bytes.fromhex("00c10000000c000000990001"))
        resp = recv_exact(s, 10)
        # Taken as a TPM 1.2 command with a bogus header: an error.
        assert len(resp) == 10 and rc_of(resp) != 0


def test_split_and_coalesced_commands(swtpm_factory):
    srv = swtpm_factory(running=True)
    with srv.connect_data() as s:
        s.sendall(TPM2_STARTUP[:3])
        time.sleep(0.1)
        s.sendall(TPM2_STARTUP[3:11])
        time.sleep(0.1)
        s.sendall(TPM2_STARTUP[11:])
        assert recv_exact(s, 10) == bytes.fromhex("80010000000a00000000")
        # Two commands in one write: two responses.
        s.sendall(TPM2_GETRANDOM8 + TPM2_GETRANDOM8)
        r1 = recv_exact(s, 20)
        r2 = recv_exact(s, 20)
        assert rc_of(r1) == 0 and rc_of(r2) == 0 and r1 != r2


def test_command_larger_than_buffer(swtpm_factory):
    srv = swtpm_factory(running=True)
    assert srv.startup() == 0
    with srv.connect_data() as s:
        big = struct.pack(">HII", 0x8001, 5000, 0x17B) + bytes(4990)
        s.sendall(big[:4096])
        resp = recv_exact(s, 10)
        assert resp == bytes.fromhex("80010000000a00000142")
        s.settimeout(3)
        try:
            assert s.recv(10) == b""
        except ConnectionResetError:
            pass
    resp = srv.tpm_cmd(TPM2_GETRANDOM8)
    assert rc_of(resp) == 0
    assert "exceeds" in srv.stderr()


def test_short_command_then_close(swtpm_factory):
    srv = swtpm_factory(running=True)
    s = srv.connect_data()
    s.sendall(b"\x80\x01\x00")
    s.close()
    time.sleep(0.2)
    assert srv.startup() == 0


def test_stalled_data_client_blocks_nothing_and_is_dropped(swtpm_factory):
    srv = swtpm_factory(running=True)
    stalled = srv.connect_data()
    stalled.sendall(TPM2_STARTUP[:5])
    t0 = time.monotonic()
    assert srv.ctrl(1, resp_len=8)[:4] == bytes(4)
    assert time.monotonic() - t0 < 3     # not held up by the stall
    stalled.settimeout(10)
    try:
        assert stalled.recv(10) == b""
    except ConnectionResetError:
        pass
    assert time.monotonic() - t0 < 9
    stalled.close()
    assert srv.startup() == 0


def test_trickled_command_is_dropped_though_bytes_keep_coming(
        swtpm_factory):
    """A command whose header announces more bytes than arrive in time is
    dropped even when a byte arrives every second (the bound is for the
    whole command, not per pause); the control channel answers meanwhile
    and the next data client is served."""
    srv = swtpm_factory(running=True)
    trickler = srv.connect_data()
    try:
        for b in TPM2_GETRANDOM8:       # 12 bytes: 12 s at this pace
            trickler.sendall(bytes([b]))
            assert srv.ctrl(1, resp_len=8)[:4] == bytes(4)
            time.sleep(1)
    except (BrokenPipeError, ConnectionResetError):
        pass
    trickler.settimeout(10)
    try:
        assert trickler.recv(10) == b"", "the trickled command was answered"
    except ConnectionResetError:
        pass
    trickler.close()
    assert "stalled in the middle of a TPM command" in srv.stderr(), str(srv)
    assert srv.startup() == 0


@pytest.mark.parametrize("how", ["disconnect", "port"])
def test_disconnect_mode(swtpm_factory, how):
    port = free_port_pair()
    extra = (["--server", "type=tcp,port=%d,disconnect" % port]
             if how == "disconnect" else ["-p", str(port)])
    srv = swtpm_factory(running=True, server=False, ctrl=False,
                        extra=extra + ["--ctrl", "type=tcp,port=%d"
                                       % (port + 1)], wait=False)
    srv.port = port
    srv.has_ctrl = True
    srv.wait_ready()
    with srv.connect_data() as s:
        s.sendall(TPM2_STARTUP)
        assert recv_exact(s, 10) == bytes.fromhex("80010000000a00000000")
        s.settimeout(3)
        assert s.recv(10) == b""
    assert rc_of(srv.tpm_cmd(TPM2_GETRANDOM8)) == 0


def test_terminate_when_data_client_leaves(swtpm_factory):
    srv = swtpm_factory(running=True, extra=["-t"])
    assert srv.startup() == 0
    assert srv.wait_exit() == 0


def test_fd_option_with_socketpair(tmp_path):
    (tmp_path / "st").mkdir()
    serve_on_socketpair("socket", "dir=%s" % (tmp_path / "st"))


@pytest.mark.parametrize("kind", ["tcp-connected", "unix-listening"])
def test_server_fd(tmp_path, kind):
    state = tmp_path / "st"
    state.mkdir()
    if kind == "tcp-connected":
        ours, theirs = socket.socketpair()
        spec = "type=tcp,fd=%d" % theirs.fileno()
    else:
        theirs = socket.socket(socket.AF_UNIX)
        path = str(tmp_path / "d.sock")
        theirs.bind(path)
        theirs.listen(1)
        spec = "type=unixio,fd=%d" % theirs.fileno()
    proc = subprocess.Popen(
        [tool("swtpm"), "socket", "--tpm2", "--tpmstate", "dir=%s" % state,
         "--flags", "startup-clear", "--server", spec],
        pass_fds=[theirs.fileno()], stderr=subprocess.PIPE)
    theirs.close()
    try:
        if kind != "tcp-connected":
            ours = socket.socket(socket.AF_UNIX)
            ours.connect(path)
        ours.settimeout(10)
        ours.sendall(TPM2_GETRANDOM8)
        assert rc_of(recv_exact(ours, 20)) == 0
        ours.close()
        if kind == "tcp-connected":
            assert proc.wait(timeout=10) == 0
        else:
            time.sleep(0.2)
            assert proc.poll() is None
    finally:
        if proc.poll() is None:
            proc.terminate()
            assert proc.wait(timeout=10) == 0
    assert proc.stderr.read() == b""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_orderly_stop_with_auto_shutdown(swtpm_factory, sig):
    srv = swtpm_factory(running=True, transport="unix")
    assert srv.startup() == 0
    assert srv.terminate(sig) == 0
    assert not os.path.exists(srv.ctrl_path)
    assert not os.path.exists(srv.data_path)
    # TPM2_Shutdown(STATE) was sent at exit: the next start can resume.
    srv2 = swtpm_factory(running=True, transport="unix",
                         extra=["--tpmstate", "dir=%s" % srv.statedir])
    assert rc_of(srv2.tpm_cmd(bytes.fromhex("80010000000c000001440001"))) \
        == 0


def test_chardev_fd_serves_until_close(tmp_path):
    (tmp_path / "st").mkdir()
    serve_on_socketpair("chardev", "dir=%s" % (tmp_path / "st"))


def test_swtpm_setup_style_socketpairs(tmp_path):
    # swtpm_setup's way: --ctrl clientfd= and --server type=tcp,fd= are
    # both ends of socketpairs; no listening socket at all.
    cmine, ctheirs = socket.socketpair()
    dmine, dtheirs = socket.socketpair()
    state = tmp_path / "st"
    state.mkdir()
    proc = subprocess.Popen(
        [tool("swtpm"), "socket", "--tpm2", "--tpmstate", "dir=%s" % state,
         "--ctrl", "type=unixio,clientfd=%d" % ctheirs.fileno(),
         "--server", "type=tcp,fd=%d" % dtheirs.fileno()],
        pass_fds=[ctheirs.fileno(), dtheirs.fileno()],
        stderr=subprocess.PIPE)
    ctheirs.close()
    dtheirs.close()
    try:
        cmine.settimeout(10)
        cmine.sendall(struct.pack(">II", 2, 0))             # INIT
        assert recv_exact(cmine, 4) == bytes(4)
        dmine.settimeout(10)
        dmine.sendall(TPM2_STARTUP)
        assert recv_exact(dmine, 10) == bytes.fromhex("80010000000a00000000")
        cmine.sendall(struct.pack(">I", 3))                 # SHUTDOWN
        assert recv_exact(cmine, 4) == bytes(4)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.stderr.read() == b""
