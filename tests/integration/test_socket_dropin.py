# SPDX-License-Identifier: BSD-3-Clause
"""Our `swtpm` as a drop-in for upstream's (issues 11 and 12): command
lines QEMU and libvirt document, --log without a sink, the pid file only
removed by the process that wrote it, -t with a data channel passed by
CMD_SET_DATAFD, and the exact --print-capabilities / --print-states text
(--version: test_versions.py)."""
import array
import json
import os
import socket
import struct
import subprocess
import time

from conftest import tool
from helpers_swtpm import (TPM2_STARTUP, ctrl_cmd, rc_of, recv_exact,
                           swtpm_factory)  # noqa: F401 (fixture)

CMD_INIT = 2
CMD_SET_DATAFD = 16


def swtpm(*args, timeout=30, **kw):
    env = dict(os.environ)
    env.pop("TPM_PATH", None)
    return subprocess.run([tool("swtpm")] + [str(a) for a in args],
                          capture_output=True, text=True, env=env,
                          timeout=timeout, **kw)


def test_log_level_alone_logs_to_stderr(swtpm_factory):
    # QEMU's docs/specs/tpm.rst line: --log level=20 without file= or fd=.
    srv = swtpm_factory(transport="unix", server=False,
                        extra=["--log", "level=20"])
    assert srv.alive(), srv
    assert srv.ctrl(3) == bytes(4)
    assert srv.wait_exit() == 0
    assert srv.stderr() != "", srv


def test_log_fd_closed_is_an_error(tmp_path):
    r, w = os.pipe()
    os.close(r)
    os.close(w)
    p = swtpm("socket", "--tpm2", "--tpmstate", "dir=%s" % tmp_path,
              "--ctrl", "type=unixio,path=%s" % (tmp_path / "c"),
              "--log", "fd=%d,level=20" % w)
    assert p.returncode == 1, p
    assert "log fd '%d'" % w in p.stderr


def test_log_fd_readonly_is_an_error(tmp_path):
    f = tmp_path / "ro"
    f.write_text("")
    with open(f) as ro:
        p = swtpm("socket", "--tpmstate", "dir=%s" % tmp_path,
                  "--ctrl", "type=unixio,path=%s" % (tmp_path / "c"),
                  "--log", "fd=%d" % ro.fileno(), pass_fds=[ro.fileno()])
    assert p.returncode == 1
    assert "not a writable file descriptor" in p.stderr


def test_pid_file_kept_by_runs_that_did_not_write_it(tmp_path):
    pidfile = tmp_path / "other.pid"
    state = tmp_path / "st"
    state.mkdir()
    for args in (["--print-capabilities"],
                 ["--tpmstate", "dir=%s" % state, "--print-states"],
                 ["--tpmstate", "dir=%s" % state,
                  "--key", "file=%s" % (tmp_path / "nonexistent"),
                  "--ctrl", "type=unixio,path=%s" % (tmp_path / "c")]):
        pidfile.write_text("4242")
        swtpm("socket", "--tpm2", "--pid", "file=%s" % pidfile, *args)
        assert pidfile.read_text() == "4242", args


def test_second_instance_keeps_first_pid_file(swtpm_factory, tmp_path):
    pidfile = tmp_path / "swtpm.pid"
    srv = swtpm_factory(extra=["--pid", "file=%s" % pidfile])
    assert pidfile.read_text() == str(srv.proc.pid)
    state = tmp_path / "st2"
    state.mkdir()
    p = swtpm("socket", "--tpm2", "--tpmstate", "dir=%s" % state,
              "--server", "type=tcp,port=%d" % srv.port,
              "--pid", "file=%s" % pidfile)
    assert p.returncode == 1
    assert pidfile.read_text() == str(srv.proc.pid)
    assert srv.ctrl(3) == bytes(4)
    assert srv.wait_exit() == 0
    assert not pidfile.exists()


def test_pid_file_written_in_place_new_whole_never_through_a_symlink(
        swtpm_factory, tmp_path):
    """An existing pid file is rewritten in place, as upstream does (its
    maker may hold it open: Debian's swtpm_setup passes a mkstemp file);
    a new one appears with its content (renamed into place, so a poller
    never reads it empty) and leaves no temporary file; a symlink at the
    path is refused with its target untouched."""
    pidfile = tmp_path / "swtpm.pid"
    pidfile.write_text("4242 and a stale longer line")
    with open(pidfile) as held:
        srv = swtpm_factory(extra=["--pid", "file=%s" % pidfile])
        assert held.read() == str(srv.proc.pid)
    assert srv.terminate() == 0
    assert not pidfile.exists()
    srv = swtpm_factory(extra=["--pid", "file=%s" % pidfile])
    assert pidfile.read_text() == str(srv.proc.pid)
    assert sorted(p.name for p in tmp_path.iterdir()
                  if "pid" in p.name) == ["swtpm.pid"]
    assert srv.terminate() == 0
    target = tmp_path / "target"
    target.write_text("keep")
    pidfile.symlink_to(target)
    state = tmp_path / "st2"
    state.mkdir()
    p = swtpm("socket", "--tpm2", "--tpmstate", "dir=%s" % state,
              "--ctrl", "type=unixio,path=%s" % (tmp_path / "c2"),
              "--pid", "file=%s" % pidfile)
    assert p.returncode == 1, p
    assert "cannot write pid file '%s'" % pidfile in p.stderr, p.stderr
    assert target.read_text() == "keep"
    assert pidfile.is_symlink()


def test_pid_file_replaced_by_another_is_not_removed(swtpm_factory,
                                                     tmp_path):
    pidfile = tmp_path / "swtpm.pid"
    srv = swtpm_factory(extra=["--pid", "file=%s" % pidfile])
    pidfile.unlink()
    pidfile.write_text("4242")
    assert srv.terminate() == 0
    assert pidfile.read_text() == "4242"


def test_pid_file_removed_after_ctrl_loss_and_shutdown(swtpm_factory,
                                                       tmp_path):
    pidfile = tmp_path / "a.pid"
    sock = tmp_path / "t.sock"
    srv = swtpm_factory(transport="unix", server=False, ctrl=False,
                        wait=False,
                        extra=["--pid", "file=%s" % pidfile, "--ctrl",
                               "type=unixio,path=%s,terminate" % sock])
    s = socket.socket(socket.AF_UNIX)
    for _ in range(200):
        try:
            s.connect(str(sock))
            break
        except OSError:
            time.sleep(0.05)
    assert ctrl_cmd(s, 1, resp_len=8)[:4] == bytes(4)
    assert pidfile.read_text() == str(srv.proc.pid)
    s.close()
    assert srv.wait_exit() == 0
    assert not pidfile.exists()


def _pass_datafd(ctrl, fd):
    ctrl.sendmsg([struct.pack(">I", CMD_SET_DATAFD)],
                 [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                   array.array("i", [fd]))])
    return recv_exact(ctrl, 4)


def test_terminate_with_set_datafd(swtpm_factory, tmp_path):
    # libvirt's line: --ctrl type=unixio,... --terminate; QEMU passes the
    # data channel with CMD_SET_DATAFD and dies: the emulator must exit
    # and release the state lock.
    pidfile = tmp_path / "t.pid"
    srv = swtpm_factory(transport="unix", running=False, server=False,
                        extra=["-t", "--pid", "file=%s" % pidfile])
    with srv.connect_ctrl() as ctrl:
        ours, theirs = socket.socketpair()
        assert _pass_datafd(ctrl, theirs.fileno()) == bytes(4)
        theirs.close()
        assert ctrl_cmd(ctrl, CMD_INIT, b"\0\0\0\0") == bytes(4)
        assert rc_of(srv.tpm_cmd(TPM2_STARTUP, sock=ours)) == 0
        ours.close()
        assert srv.wait_exit() == 0, srv
    assert not pidfile.exists()
    # The lock is free: the same state starts again.
    again = swtpm_factory(extra=["--tpmstate", "dir=%s" % srv.statedir])
    assert again.startup() == 0


def test_terminate_with_server_client(swtpm_factory):
    srv = swtpm_factory(extra=["-t"])
    assert srv.startup() == 0
    assert srv.wait_exit() == 0, srv


UPSTREAM_FEATURES = [
    "tpm-1.2", "tpm-2.0", "tpm-send-command-header", "flags-opt-startup",
    "flags-opt-disable-auto-shutdown", "ctrl-opt-terminate",
    "cmdarg-seccomp", "cmdarg-key-fd", "cmdarg-pwd-fd",
    "cmdarg-print-states", "cmdarg-chroot", "cmdarg-migration",
    "nvram-backend-dir", "nvram-backend-file", "cmdarg-profile",
    "cmdarg-print-profiles", "profile-opt-remove-disabled",
    "cmdarg-print-info", "tpmstate-opt-lock",
    "tpmstate-dir-backend-opt-backup", "tpmstate-dir-backend-opt-fsync",
    "cmdarg-pcap", "systemd-notify"]


def _in_upstream_order(feats):
    """feats without rsa-keysize-N follow upstream's order (docs/cli.md
    §9.1)."""
    plain = [f for f in feats if not f.startswith("rsa-keysize-")]
    idx = [UPSTREAM_FEATURES.index(f) for f in plain]
    return idx == sorted(idx)


def test_print_capabilities_upstream_order():
    for extra in ([], ["--tpm2"]):
        p = swtpm("socket", *extra, "--print-capabilities")
        assert p.returncode == 0
        feats = json.loads(p.stdout)["features"]
        assert _in_upstream_order(feats), feats
        assert "ctrl-opt-terminate" in feats
        assert p.stdout.startswith('{ "type": "swtpm", "features": [ "')
        assert p.stdout.endswith(' ], "version": "0.9.0" }\n')


def test_print_capabilities_cuse_lists_ctrl_opt_terminate():
    p = subprocess.run([tool("swtpm_cuse"), "--print-capabilities"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0
    feats = json.loads(p.stdout)["features"]
    assert "ctrl-opt-terminate" in feats
    assert "tpm-send-command-header" not in feats
    assert _in_upstream_order(feats), feats


def test_print_states_empty_is_exactly_upstream(tmp_path):
    p = swtpm("socket", "--tpm2", "--tpmstate", "dir=%s" % tmp_path,
              "--print-states")
    assert p.returncode == 0
    assert p.stdout == '{ "type": "swtpm", "states": [] }'
