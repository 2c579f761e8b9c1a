# SPDX-License-Identifier: BSD-3-Clause
"""The storage lock of `swtpm socket` on a shared state directory
(docs/state.md §6, docs/control-channel.md §6.3): when it is taken, when it is
given up (only with `--migration release-lock-outgoing`, after the savestate
blob), and that a process without the lock never writes state, so an
acknowledged write of the process that took it over is never lost."""
import struct
import time

from helpers_swtpm import (OurSwtpm, rc_of, run_tool, wait_lockable,
                           swtpm_factory)  # noqa: F401 (fixture)
import helpers_reliability as rh

CMD_INIT = 2
CMD_LOCK_STORAGE = 19
TPM_FAIL = 9
NV_INDEX = 0x01500020


def res(b):
    assert len(b) >= 4, b.hex()
    return struct.unpack(">I", b[:4])[0]


def sharing(tmp_path, name, first, **kw):
    """A second server whose state directory is first's."""
    d = tmp_path / name
    d.mkdir()
    (d / "state").symlink_to(first.statedir)
    return OurSwtpm(d, **kw)


def init(srv):
    return res(srv.ctrl(CMD_INIT, b"\0\0\0\0"))


def write_nv(srv, data, define=False, start=False):
    with srv.connect_data() as s:
        if define or start:
            assert rc_of(srv.tpm_cmd(rh.startup_clear(), s)) == 0
        if define:
            assert rc_of(srv.tpm_cmd(rh.nv_define(NV_INDEX, 8), s)) == 0
        return rc_of(srv.tpm_cmd(rh.nv_write(NV_INDEX, data), s))


def read_nv(srv):
    with srv.connect_data() as s:
        assert rc_of(srv.tpm_cmd(rh.startup_clear(), s)) == 0
        resp = srv.tpm_cmd(rh.nv_read(NV_INDEX, 8), s)
    assert rc_of(resp) == 0, resp.hex()
    return rh.nv_read_data(resp)


def nv_after_restart(tmp_path, first):
    c = sharing(tmp_path, "check", first, running=False)
    try:
        assert init(c) == 0, str(c)
        return read_nv(c)
    finally:
        c.stop()


def save_savestate(srv, tmp_path):
    # TPM 2 has no savestate: the reply is TPM_RETRY, which QEMU accepts.
    return run_tool("swtpm_ioctl", *srv.ctrl_args(), "--save", "savestate",
                    tmp_path / "savestate.blob")


def wait_lock_released(srv, timeout=10.0):
    """Until srv's .lock is free: with release-lock-outgoing the source
    gives it up after its savestate reply (docs/control-channel.md §6.3),
    so a destination INIT that does not retry can come first."""
    wait_lockable(srv.statedir / ".lock", timeout,
                  "%s kept the lock after its savestate reply" % srv)


def test_lock_kept_after_savestate_without_release_option(swtpm_factory,
                                                          tmp_path):
    a = swtpm_factory(running=False)
    assert init(a) == 0
    assert write_nv(a, b"AAAAAAAA", define=True) == 0
    save_savestate(a, tmp_path)
    b = sharing(tmp_path, "b", a, running=False)
    try:
        assert init(b) == TPM_FAIL, str(b)
        assert "in use by process %d" % a.proc.pid in b.stderr()
    finally:
        b.stop()
    # A still owns the state and can write it.
    assert write_nv(a, b"CCCCCCCC") == 0
    assert a.terminate() == 0
    assert nv_after_restart(tmp_path, a) == b"CCCCCCCC"


def test_released_lock_old_writer_never_overwrites(swtpm_factory, tmp_path):
    a = swtpm_factory(running=False,
                      extra=["--migration", "release-lock-outgoing"])
    assert init(a) == 0
    assert write_nv(a, b"AAAAAAAA", define=True) == 0
    save_savestate(a, tmp_path)
    wait_lock_released(a)
    b = sharing(tmp_path, "b", a, running=False)
    try:
        assert init(b) == 0, str(b)
        assert write_nv(b, b"BBBBBBBB", start=True) == 0
        # A's automatic TPM2_Shutdown would rewrite permall: not without
        # the lock.
        assert a.terminate() == 0, str(a)
        assert "not sending TPM2_Shutdown" in a.stderr()
    finally:
        # SIGKILL: B's own exit must not be what leaves BBBBBBBB on disk.
        b.stop()
    assert nv_after_restart(tmp_path, a) == b"BBBBBBBB"


def test_released_lock_next_command_terminates_without_writing(
        swtpm_factory, tmp_path):
    a = swtpm_factory(running=False,
                      extra=["--migration", "release-lock-outgoing"])
    assert init(a) == 0
    assert write_nv(a, b"AAAAAAAA", define=True) == 0
    save_savestate(a, tmp_path)
    wait_lock_released(a)
    b = sharing(tmp_path, "b", a, running=False)
    try:
        assert init(b) == 0, str(b)
        assert write_nv(b, b"BBBBBBBB", start=True) == 0
        # A cannot take the lock back (3 s of retries) and terminates.
        with a.connect_data() as s:
            s.sendall(rh.get_random(8))
            assert s.recv(10) == b""
        assert a.wait_exit(20) == 1, str(a)
        assert "in use by process %d" % b.proc.pid in a.stderr()
    finally:
        # SIGKILL: B's own exit must not be what leaves BBBBBBBB on disk.
        b.stop()
    assert nv_after_restart(tmp_path, a) == b"BBBBBBBB"


def test_failed_migration_lock_storage_takes_lock_back(swtpm_factory,
                                                       tmp_path):
    a = swtpm_factory(running=False,
                      extra=["--migration", "release-lock-outgoing"])
    assert init(a) == 0
    assert write_nv(a, b"AAAAAAAA", define=True) == 0
    save_savestate(a, tmp_path)
    # The migration failed: QEMU sends LOCK_STORAGE and the source runs on.
    assert res(a.ctrl(CMD_LOCK_STORAGE, struct.pack(">I", 300))) == 0
    assert write_nv(a, b"DDDDDDDD") == 0
    assert a.terminate() == 0
    assert nv_after_restart(tmp_path, a) == b"DDDDDDDD"


def test_migration_options_take_the_lock_at_init(swtpm_factory, tmp_path):
    for opt in ("incoming", "release-lock-outgoing"):
        a = swtpm_factory(running=False, extra=["--migration", opt])
        # Not locked before INIT: another process may still use the state.
        b = sharing(tmp_path, "b-" + opt, a, running=False)
        try:
            assert init(b) == 0, str(b)
            assert write_nv(b, b"BBBBBBBB", define=True) == 0
            assert b.terminate() == 0
        finally:
            b.stop()
        # The first state access takes it (incoming: the first command).
        assert init(a) == 0, str(a)
        assert read_nv(a) == b"BBBBBBBB"
        assert (a.statedir / ".lock").read_text() == str(a.proc.pid)
        a.stop()


def test_lock_storage_huge_retry_count_is_bounded(swtpm_factory, tmp_path):
    a = swtpm_factory(running=False)
    assert init(a) == 0
    b = sharing(tmp_path, "b", a, running=False)
    try:
        # 0xffffffff x 10 ms would be 16 months; the wait is cut to 3 s.
        with b.connect_ctrl(timeout=60) as s:
            s.sendall(struct.pack(">II", CMD_LOCK_STORAGE, 0xffffffff))
            s.settimeout(60)
            assert res(s.recv(4)) == TPM_FAIL
        assert "in use by process %d" % a.proc.pid in b.stderr()
        assert len(b.ctrl(1, resp_len=8)) == 8      # still serving
        assert b.terminate() == 0
    finally:
        b.stop()


def wait_for_log(srv, text, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in srv.stderr():
            return True
        time.sleep(0.02)
    return False


def lock_holder_and_waiter(swtpm_factory, tmp_path):
    """A holds the lock; B runs beside it on the same directory."""
    a = swtpm_factory(running=False)
    assert init(a) == 0
    return a, sharing(tmp_path, "b", a, running=False,
                      extra=["--log", "level=2"])


def start_lock_wait(b, s):
    """CMD_LOCK_STORAGE with the most retries on B's control socket s,
    returned once B logs that it waits."""
    s.sendall(struct.pack(">II", CMD_LOCK_STORAGE, 0xffffffff))
    assert wait_for_log(b, "waiting up to 3000 ms for the lock"), str(b)


def test_sigterm_ends_a_lock_storage_wait(swtpm_factory, tmp_path):
    a, b = lock_holder_and_waiter(swtpm_factory, tmp_path)
    try:
        with b.connect_ctrl(timeout=60) as s:
            start_lock_wait(b, s)
            # The wait ends with the signal, not when its 3 s are over.
            assert b.terminate(timeout=10) == 0, str(b)
        assert "stopped waiting for the lock" in b.stderr(), str(b)
        assert "terminating on signal 15" in b.stderr(), str(b)
    finally:
        b.stop()
    # The holder was not disturbed.
    assert (a.statedir / ".lock").read_text() == str(a.proc.pid)
    assert write_nv(a, b"AAAAAAAA", define=True, start=True) == 0


def test_lock_storage_wait_gets_the_lock_when_the_holder_exits(
        swtpm_factory, tmp_path):
    a, b = lock_holder_and_waiter(swtpm_factory, tmp_path)
    try:
        with b.connect_ctrl(timeout=60) as s:
            start_lock_wait(b, s)
            assert a.terminate() == 0, str(a)
            s.settimeout(60)
            assert res(s.recv(4)) == 0, str(b)
        assert (a.statedir / ".lock").read_text() == str(b.proc.pid)
        assert init(b) == 0, str(b)
        assert write_nv(b, b"BBBBBBBB", define=True, start=True) == 0
        assert b.terminate() == 0
    finally:
        b.stop()
    assert nv_after_restart(tmp_path, a) == b"BBBBBBBB"


def test_not_need_init_on_locked_dir_reports_the_lock_once(swtpm_factory,
                                                           tmp_path):
    """A second server started running (--flags not-need-init) on a locked
    directory fails with the lock holder named once, and without a second
    line blaming the state or the --key."""
    a = swtpm_factory()
    b = sharing(tmp_path, "b", a, running=True, wait=False)
    try:
        assert b.proc.wait(timeout=30) != 0
        err = b.stderr()
        assert err.count("in use by process %d" % a.proc.pid) == 1, err
        assert "--key" not in err and "could not start" not in err, err
        assert len(err.strip().splitlines()) == 1, err
    finally:
        b.stop()
