# SPDX-License-Identifier: BSD-3-Clause
"""Command line of our `swtpm` (docs/cli.md §1-4, §9.1): entry points, usage
errors and exit codes, print options, -d readiness and the pid file."""
import json
import os
import socket
import subprocess
import time

import pytest

from conftest import tool
from helpers_socket import free_port_pair
from helpers_swtpm import swtpm_factory  # noqa: F401 (fixture)


def swtpm(*args, env=None, timeout=30):
    full = dict(os.environ)
    full.pop("TPM_PATH", None)
    if env:
        full.update(env)
    return subprocess.run([tool("swtpm")] + [str(a) for a in args],
                          capture_output=True, text=True, env=full,
                          timeout=timeout)


def test_entry_points():
    p = swtpm()
    assert p.returncode == 1
    assert p.stderr == "Missing TPM interface type.\n"
    p = swtpm("-v")
    assert p.returncode == 0
    assert p.stdout.startswith("TPM emulator version ")
    p = swtpm("--help")
    assert p.returncode == 0 and "socket" in p.stdout
    p = swtpm("bogus")
    assert p.returncode == 1 and "bogus" in p.stderr
    for iface in ("socket", "chardev"):
        p = swtpm(iface, "--help")
        assert p.returncode == 0 and "--ctrl" in p.stdout
        assert "Exit codes" in p.stdout


def test_swtpm_cuse_help_and_hints_name_what_the_user_ran():
    """`swtpm cuse` runs swtpm_cuse; its usage and its hint after a bad
    option name `swtpm cuse`, not the binary it execs."""
    prg = tool("swtpm")
    p = swtpm("cuse", "--help")
    assert p.returncode == 0, p.stderr
    assert "Usage: %s cuse -n NAME [options]\n" % prg in p.stdout
    assert "swtpm_cuse -n" not in p.stdout
    p = swtpm("cuse", "--bogus")
    assert p.returncode == 1
    assert p.stderr.endswith("Try '%s cuse --help' for the options.\n"
                             % prg), p.stderr


def test_help_names_backup_and_fsync_which_are_accepted(tmp_path):
    for iface in ("socket", "chardev", "cuse"):
        p = swtpm(iface, "--help")
        assert p.returncode == 0, p.stderr
        assert "[,backup][,fsync]" in p.stdout, p.stdout
        assert "backup, fsync: accepted" in p.stdout, p.stdout
        p = swtpm(iface, "--tpm2", "--tpmstate",
                  "dir=%s,backup,fsync" % tmp_path, "--print-states")
        assert p.returncode == 0, p.stderr
        assert p.stdout == '{ "type": "swtpm", "states": [] }'


def test_cuse_runs_the_sibling_binary():
    p = swtpm("cuse", "--version")
    assert p.returncode == 0
    assert "CUSE interface" in p.stdout


@pytest.mark.parametrize("args,needle", [
    (["--bogus"], "--help"),
    (["--tpmstate", "dir=/tmp", "--server", "type=tcp,port=1", "stray"],
     "Unknown parameter 'stray'"),
    (["--tpmstate", "dir=/tmp", "--server", "type=udp,port=1"],
     "type must be tcp or unixio"),
    (["--tpmstate", "dir=/tmp", "--server", "type=tcp,port=99999"],
     "port must be 0-65535, got '99999'"),
    (["--tpmstate", "dir=/tmp", "--server", "type=tcp,prot=1"],
     "Unknown option"),
    (["--tpmstate", "dir=/tmp", "--ctrl", "path=/x"], "type="),
    (["--tpmstate", "dir=/tmp", "--server", "type=unixio"], "path="),
    (["--tpmstate", "dir=/tmp", "-p", "70000"], "port must be"),
    (["--tpmstate", "dir=/tmp", "--fd", "1"], "--fd"),
    (["--tpmstate", "dir=/tmp"], "no channel given"),
    (["--server", "type=tcp,port=1"], "no TPM state directory"),
    (["--tpm2", "--tpmstate", "dir=/tmp", "--server", "type=tcp,port=1",
      "--flags", "startup-deactivated"], "only valid for a TPM 1.2"),
    (["--tpmstate", "dir=/nonexistent/dir", "--server",
      "type=tcp,port=%d" % 0], "/nonexistent/dir"),
])
def test_usage_errors_exit_1(args, needle):
    p = swtpm("socket", *args)
    assert p.returncode == 1, p
    assert needle in p.stderr, p.stderr


def test_iface_specific_options_rejected():
    p = swtpm("socket", "--tpmstate", "dir=/tmp", "--vtpm-proxy")
    assert p.returncode == 1 and "swtpm chardev" in p.stderr
    p = swtpm("chardev", "--tpmstate", "dir=/tmp", "--vtpm-proxy",
              "--server", "type=tcp,port=1")
    assert p.returncode == 1 and "swtpm socket" in p.stderr


def test_chardev_needs_one_source():
    p = swtpm("chardev", "--tpmstate", "dir=/tmp")
    assert p.returncode == 1 and "exactly one" in p.stderr
    p = swtpm("chardev", "--tpmstate", "dir=/tmp", "-c", "/nonexistent")
    assert p.returncode == 1 and "/nonexistent" in p.stderr


@pytest.mark.parametrize("tpm2", [True, False])
def test_print_capabilities(tpm2):
    p = swtpm("socket", *(["--tpm2"] if tpm2 else []),
              "--print-capabilities")
    assert p.returncode == 0
    assert p.stdout.endswith("\n")
    caps = json.loads(p.stdout)
    assert caps["type"] == "swtpm"
    feats = caps["features"]
    for f in ("tpm-1.2", "tpm-2.0", "tpm-send-command-header",
              "flags-opt-startup", "ctrl-opt-terminate", "cmdarg-seccomp",
              "cmdarg-print-states", "cmdarg-migration"):
        assert f in feats
    assert ("rsa-keysize-2048" in feats) == tpm2


def test_print_states(swtpm_factory, tmp_path):
    srv = swtpm_factory(running=True)
    assert srv.startup() == 0
    assert srv.terminate() == 0
    p = swtpm("socket", "--tpm2", "--tpmstate", "dir=%s" % srv.statedir,
              "--print-states")
    assert p.returncode == 0
    assert not p.stdout.endswith("\n")
    st = json.loads(p.stdout)
    names = [s["name"] for s in st["states"]]
    assert "permall" in names
    empty = tmp_path / "empty"
    empty.mkdir()
    p = swtpm("socket", "--tpmstate", "dir=%s" % empty, "--print-states")
    assert p.returncode == 0
    assert json.loads(p.stdout) == {"type": "swtpm", "states": []}


def test_daemon_ready_and_pid_file(tmp_path):
    state = tmp_path / "st"
    state.mkdir()
    port = free_port_pair()
    pidfile = tmp_path / "swtpm.pid"
    logfile = tmp_path / "swtpm.log"
    p = swtpm("socket", "--tpm2", "-d", "--tpmstate", "dir=%s" % state,
              "--server", "type=tcp,port=%d" % port,
              "--ctrl", "type=tcp,port=%d" % (port + 1),
              "--pid", "file=%s" % pidfile, "--log", "file=%s" % logfile,
              "--flags", "startup-clear")
    assert p.returncode == 0, p.stderr
    # Ready means: pid file written and both sockets listening already.
    pid = int(pidfile.read_text())
    try:
        with socket.create_connection(("127.0.0.1", port + 1), timeout=2):
            pass
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(bytes.fromhex("80010000000c0000017b0008"))
            s.settimeout(5)
            assert len(s.recv(64)) == 20
    finally:
        os.kill(pid, 15)
    for _ in range(100):
        if not pidfile.exists():
            break
        time.sleep(0.05)
    assert not pidfile.exists()
    assert "AddressSanitizer" not in logfile.read_text()


@pytest.mark.parametrize("binary", ["ours", "debian"])
def test_pid_fd_file_removed_at_shutdown(tmp_path, binary):
    # Upstream writes the pid into the descriptor's file and removes that
    # file at CMD_SHUTDOWN; Debian's 0.7.1 is the reference run.
    exe = tool("swtpm") if binary == "ours" else "/usr/bin/swtpm"
    if not os.access(exe, os.X_OK):
        pytest.skip("%s is not installed" % exe)
    state = tmp_path / "st"
    state.mkdir()
    port = free_port_pair()
    pidpath = tmp_path / "by-fd.pid"
    with open(pidpath, "w") as pidf:
        proc = subprocess.Popen(
            [exe, "socket", "--tpm2", "--tpmstate", "dir=%s" % state,
             "--server", "type=tcp,port=%d" % port,
             "--ctrl", "type=tcp,port=%d" % (port + 1),
             "--flags", "not-need-init", "--pid", "fd=%d" % pidf.fileno()],
            pass_fds=(pidf.fileno(),), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for _ in range(200):
            if pidpath.read_text():
                break
            time.sleep(0.05)
        assert pidpath.read_text() == str(proc.pid)
        res = subprocess.run([tool("swtpm_ioctl"), "--tcp",
                              "127.0.0.1:%d" % (port + 1), "-s"],
                             capture_output=True, text=True, timeout=30)
        assert res.returncode == 0, res.stderr
        out, _ = proc.communicate(timeout=10)
        assert proc.returncode == 0, out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not pidpath.exists(), "%s left %s" % (binary, pidpath)


def test_daemon_failure_reaches_caller(tmp_path):
    port = free_port_pair()
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", port))
    blocker.listen(1)
    try:
        p = swtpm("socket", "-d", "--tpmstate", "dir=%s" % tmp_path,
                  "--server", "type=tcp,port=%d" % port)
        assert p.returncode == 1
        assert "cannot listen" in p.stderr
    finally:
        blocker.close()


def test_unix_socket_path_not_replaced_when_not_a_socket(tmp_path):
    f = tmp_path / "notasock"
    f.write_text("keep me")
    p = swtpm("socket", "--tpmstate", "dir=%s" % tmp_path,
              "--ctrl", "type=unixio,path=%s" % f)
    assert p.returncode == 1 and "not a socket" in p.stderr
    assert f.read_text() == "keep me"


def test_unix_socket_mode(tmp_path):
    path = tmp_path / "c.sock"
    proc = subprocess.Popen(
        [tool("swtpm"), "socket", "--tpmstate", "dir=%s" % tmp_path,
         "--ctrl", "type=unixio,path=%s,mode=0600" % path])
    try:
        for _ in range(100):
            if path.exists():
                break
            time.sleep(0.05)
        assert (path.stat().st_mode & 0o777) == 0o600
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
    assert not path.exists()


def test_seccomp_kill_survives_full_session(swtpm_factory):
    # The default filter (kill) must allow everything a session does.
    srv = swtpm_factory(transport="unix", running=False,
                        extra=["--seccomp", "action=kill"])
    srv.ctrl(2, b"\0\0\0\0")
    assert srv.startup() == 0
    # GET_STATEBLOB permanent: 16-byte header, then the blob.
    hdr = srv.ctrl(12, bytes.fromhex("00000000" "00000001" "00000000"),
                   resp_len=16)
    assert hdr[:4] == bytes(4)
    srv.ctrl(10)    # STORE_VOLATILE
    assert srv.ctrl(3) == bytes(4)
    assert srv.wait_exit() == 0
