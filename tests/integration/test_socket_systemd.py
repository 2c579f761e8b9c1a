# SPDX-License-Identifier: BSD-3-Clause
"""systemd integration of our `swtpm socket` (docs/cli.md §4, §9.1): READY=1 on
$NOTIFY_SOCKET (path and abstract names) once the channels listen and the
state is locked, and socket activation with systemd-socket-activate
passing the listening sockets as --server/--ctrl fd=3/fd=4, or taken from
$LISTEN_FDS without those options."""
import json
import os
import shutil
import socket
import subprocess
import time

import pytest

from conftest import tool
from helpers_socket import run_tool
from helpers_swtpm import (TPM2_GETRANDOM8, ends_on_sigterm, kill_if_running,
                           rc_of, use_and_shut_down, wait_for_path)

NOTIFY_TIMEOUT = 10


def notify_listener(addr):
    """A datagram socket bound to addr ('@name' is abstract)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind("\0" + addr[1:] if addr.startswith("@") else addr)
    s.settimeout(NOTIFY_TIMEOUT)
    return s


def start_notified(tmp_path, addr, extra=()):
    env = dict(os.environ, NOTIFY_SOCKET=addr)
    statedir = tmp_path / "state"
    statedir.mkdir()
    argv = [tool("swtpm"), "socket", "--tpm2",
            "--tpmstate", "dir=%s" % statedir,
            "--server", "type=unixio,path=%s" % (tmp_path / "data.sock"),
            "--ctrl", "type=unixio,path=%s" % (tmp_path / "ctrl.sock"),
            "--flags", "not-need-init,startup-clear"] + list(extra)
    errf = open(tmp_path / "swtpm.stderr", "wb")
    return subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                            stdout=errf, stderr=errf), argv


def stop(proc):
    if proc.poll() is None:
        proc.terminate()
        proc.wait(timeout=10)


def check_ready(tmp_path, listener, proc, argv):
    try:
        msg = listener.recv(4096)
    except socket.timeout:
        stop(proc)
        pytest.fail("no READY=1 from %s\n%s" % (
            argv, (tmp_path / "swtpm.stderr").read_text()))
    assert msg == b"READY=1"
    # Ready means usable: both sockets accept and the state is locked.
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(str(tmp_path / "data.sock"))
    s.sendall(TPM2_GETRANDOM8)
    resp = s.recv(4096)
    s.close()
    assert rc_of(resp) == 0
    second = subprocess.run(
        [tool("swtpm"), "socket", "--tpm2", "--tpmstate",
         "dir=%s" % (tmp_path / "state"), "--flags", "not-need-init",
         "--server", "type=unixio,path=%s" % (tmp_path / "d2.sock")],
        capture_output=True, text=True, timeout=30)
    assert second.returncode == 1, second.stderr


def test_notify_ready_path(tmp_path):
    addr = str(tmp_path / "notify")
    listener = notify_listener(addr)
    proc, argv = start_notified(tmp_path, addr)
    try:
        check_ready(tmp_path, listener, proc, argv)
    finally:
        stop(proc)
        listener.close()
    assert proc.returncode == 0


def test_notify_ready_abstract(tmp_path):
    addr = "@swtpm-test-%d-%d" % (os.getpid(), time.monotonic_ns())
    listener = notify_listener(addr)
    proc, argv = start_notified(tmp_path, addr)
    try:
        check_ready(tmp_path, listener, proc, argv)
    finally:
        stop(proc)
        listener.close()


def test_notify_survives_chroot_and_seccomp(tmp_path):
    """The socket is connected before chroot and seccomp: READY=1 still
    arrives from inside an empty chroot."""
    addr = str(tmp_path / "notify")
    listener = notify_listener(addr)
    root = tmp_path / "root"
    (root / "state").mkdir(parents=True)
    env = dict(os.environ, NOTIFY_SOCKET=addr)
    proc = subprocess.Popen(
        [tool("swtpm"), "socket", "--tpm2", "--chroot", str(root),
         "--tpmstate", "dir=/state", "--ctrl",
         "type=unixio,path=/ctrl.sock"], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert listener.recv(4096) == b"READY=1"
    finally:
        stop(proc)
        listener.close()


def test_notify_bad_address_warns_and_runs(tmp_path):
    """A NOTIFY_SOCKET that is neither a path nor '@name' gets a warning;
    the daemon serves anyway (systemd would time the unit out)."""
    proc, argv = start_notified(tmp_path, "relative/notify")
    try:
        wait_for_path(proc, tmp_path / "ctrl.sock",
                      (tmp_path / "swtpm.stderr").read_text, NOTIFY_TIMEOUT)
        res = run_tool("swtpm_ioctl", "--unix", tmp_path / "ctrl.sock", "-g")
        assert res.rc == 0, str(res)
    finally:
        stop(proc)
    err = (tmp_path / "swtpm.stderr").read_text()
    assert "cannot use NOTIFY_SOCKET 'relative/notify'" in err


def test_notify_full_queue_never_blocks(tmp_path):
    """A NOTIFY_SOCKET whose queue is full (nobody reads it): the daemon
    does not wait in send(); it warns once, serves, and SIGTERM ends it
    within a second."""
    addr = str(tmp_path / "notify")
    listener = notify_listener(addr)
    filler = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    filler.connect(addr)
    filler.setblocking(False)
    with pytest.raises(BlockingIOError):
        for _ in range(100000):
            filler.send(b"X" * 64)
    proc, argv = start_notified(tmp_path, addr)
    try:
        wait_for_path(proc, tmp_path / "ctrl.sock",
                      (tmp_path / "swtpm.stderr").read_text, NOTIFY_TIMEOUT)
        res = run_tool("swtpm_ioctl", "--unix", tmp_path / "ctrl.sock", "-g")
        assert res.rc == 0, str(res)
        ends_on_sigterm(proc)
    finally:
        kill_if_running(proc)
        filler.close()
        listener.close()
    err = (tmp_path / "swtpm.stderr").read_text()
    assert err.count("cannot notify systemd") == 1, err


def test_capabilities_list_systemd_pcap_print_info():
    p = subprocess.run([tool("swtpm"), "socket", "--print-capabilities"],
                       capture_output=True, text=True, timeout=30)
    feats = json.loads(p.stdout)["features"]
    # Upstream's order (docs/cli.md §9.1).
    # Not cmdarg-print-info: libvirt >= 10.10 then asks --print-info 0x20
    # for the active profile, which libtpms 0.9 does not have.
    assert "cmdarg-print-info" not in feats
    assert feats.index("tpmstate-opt-lock") > feats.index("nvram-backend-file")
    assert feats[-2:] == ["cmdarg-pcap", "systemd-notify"]


@pytest.mark.skipif(not shutil.which("systemd-socket-activate"),
                    reason="systemd-socket-activate not installed")
def test_socket_activation(tmp_path):
    """systemd passes its listening sockets from fd 3 on, in ListenStream
    order; `--server type=unixio,fd=3 --ctrl type=unixio,fd=4` adopts
    them, as with upstream swtpm."""
    data, ctrl = tmp_path / "data.sock", tmp_path / "ctrl.sock"
    (tmp_path / "state").mkdir()
    errf = open(tmp_path / "activate.stderr", "wb")
    act = subprocess.Popen(
        ["systemd-socket-activate", "-l", str(data), "-l", str(ctrl),
         tool("swtpm"), "socket", "--tpm2", "--tpmstate",
         "dir=%s" % (tmp_path / "state"), "--server", "type=unixio,fd=3",
         "--ctrl", "type=unixio,fd=4", "--flags",
         "not-need-init,startup-clear"],
        stdout=errf, stderr=errf)
    try:
        deadline = time.monotonic() + 10
        while not ctrl.exists():
            assert act.poll() is None, (tmp_path / "activate.stderr"
                                        ).read_text()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        # The first connection starts swtpm, which inherits both sockets.
        res = run_tool("swtpm_ioctl", "--unix", ctrl, "-g")
        assert res.rc == 0, str(res) + (tmp_path / "activate.stderr"
                                        ).read_text()
        use_and_shut_down(act, data, ctrl)
    finally:
        stop(act)
    err = (tmp_path / "activate.stderr").read_text()
    assert "rror" not in err, err


@pytest.mark.skipif(not shutil.which("systemd-socket-activate"),
                    reason="systemd-socket-activate not installed")
@pytest.mark.parametrize("data_kind", ["unix", "tcp"])
def test_socket_activation_by_listen_fds(tmp_path, data_kind):
    """Without --server/--ctrl, the sockets of $LISTEN_FDS (for our
    $LISTEN_PID) are the data channel (fd 3) and the control channel
    (fd 4), whatever their address family."""
    from helpers_swtpm import free_port_pair
    data, ctrl = tmp_path / "data.sock", tmp_path / "ctrl.sock"
    port = free_port_pair()
    listen = str(data) if data_kind == "unix" else "127.0.0.1:%d" % port
    (tmp_path / "state").mkdir()
    errfile = tmp_path / "activate.stderr"
    errf = open(errfile, "wb")
    act = subprocess.Popen(
        ["systemd-socket-activate", "-l", listen, "-l", str(ctrl),
         tool("swtpm"), "socket", "--tpm2", "--tpmstate",
         "dir=%s" % (tmp_path / "state"), "--flags",
         "not-need-init,startup-clear"],
        stdout=errf, stderr=errf)
    try:
        wait_for_path(act, ctrl, errfile.read_text)
        res = run_tool("swtpm_ioctl", "--unix", ctrl, "-g")
        assert res.rc == 0, str(res) + errfile.read_text()
        use_and_shut_down(act, data if data_kind == "unix"
                          else ("127.0.0.1", port), ctrl)
    finally:
        stop(act)
    err = errfile.read_text()
    assert "rror" not in err, err


def run_activated(tmp_path, n_fds, fds, pid="self", extra=()):
    """swtpm socket with fds[i] as fd 3 + i and LISTEN_FDS=n_fds; the
    shell's $$ is swtpm's pid after exec."""
    (tmp_path / "state").mkdir(exist_ok=True)
    argv = [tool("swtpm"), "socket", "--tpm2", "--tpmstate",
            "dir=%s" % (tmp_path / "state"), "--flags", "not-need-init"]
    argv += list(extra)
    pid_expr = "$$" if pid == "self" else pid
    script = 'LISTEN_PID=%s LISTEN_FDS=%s exec "$@"' % (pid_expr, n_fds)

    def place_fds():
        for i, fd in enumerate(fds):
            os.dup2(fd, 3 + i)
            os.set_inheritable(3 + i, True)
    return subprocess.run(["sh", "-c", script, "sh"] + [str(a) for a in argv],
                          preexec_fn=place_fds, close_fds=False,
                          capture_output=True, text=True, timeout=30)


def test_socket_activation_bad_passed_fds_are_named(tmp_path):
    r, w = os.pipe()
    try:
        p = run_activated(tmp_path, 1, [r])
        assert p.returncode == 1, p.stderr
        assert "LISTEN_FDS: file descriptor 3 is not a socket" in p.stderr
        p = run_activated(tmp_path, 3, [r, r, r])
        assert p.returncode == 1, p.stderr
        assert "LISTEN_FDS='3'" in p.stderr
        assert "1 or 2 sockets" in p.stderr
    finally:
        os.close(r)
        os.close(w)
    u = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        p = run_activated(tmp_path, 1, [u.fileno()])
        assert p.returncode == 1, p.stderr
        assert "not a stream socket" in p.stderr
    finally:
        u.close()


def test_socket_activation_ignored_unless_for_us(tmp_path):
    """LISTEN_PID of another process, or explicit channels: the command
    line means what it means without socket activation."""
    lsock = socket.socket(socket.AF_UNIX)
    lsock.bind(str(tmp_path / "x.sock"))
    lsock.listen(1)
    try:
        p = run_activated(tmp_path, 1, [lsock.fileno()], pid="1")
        assert p.returncode == 1, p.stderr
        assert "no channel given" in p.stderr
        # --print-states needs no channel and does not look at LISTEN_FDS.
        p = run_activated(tmp_path, 2, [], extra=["--print-states"])
        assert p.returncode == 0, p.stderr
        assert p.stdout.startswith('{ "type": "swtpm", "states": [')
    finally:
        lsock.close()


@pytest.mark.cuse
def test_cuse_notify_ready(tmp_path):
    """swtpm_cuse sends READY=1 once /dev/NAME can be opened."""
    from helpers_cuse import CuseTPM
    addr = str(tmp_path / "notify")
    listener = notify_listener(addr)
    os.environ["NOTIFY_SOCKET"] = addr
    try:
        t = CuseTPM(tmp_path, tpm2=True)
        t.start()
    finally:
        del os.environ["NOTIFY_SOCKET"]
    try:
        assert listener.recv(4096) == b"READY=1"
        with t.open() as d:
            d.init()
    finally:
        t.stop()
        listener.close()
