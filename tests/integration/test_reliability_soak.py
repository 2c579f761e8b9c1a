# SPDX-License-Identifier: BSD-3-Clause
"""Crash consistency of the state directory (docs/robustness.md).

swtpm_cuse writes permall into a preallocated journal slot with one
fdatasync (checkpointed into the upstream-format file with temp file +
fsync + rename), and libtpms stores NV before it answers a command, so
every NV write the client saw acknowledged must survive a SIGKILL at any
moment.  The loop count is SWTPM_SOAK_ITERATIONS (default 15).  On a full
or read-only state directory a write that fits the journal's slots is
still durable; one that needs new space (state as upstream swtpm leaves
it, without a journal) fails with a TPM error while the daemon keeps
serving, and the last good state still loads.
"""
import os
import random
import shutil
import struct
import subprocess
import threading
import time

import pytest

import helpers_reliability as rh
from helpers_cuse import CuseTPM, cuse_tpm, rc_of

pytestmark = pytest.mark.cuse

NV_INDEX = 0x01500100
NV_SIZE = 8
STATE_FILES = {".lock", "tpm2-00.permall", "tpm2-00.volatilestate",
               "TMP2-00.permall", "TMP2-00.volatilestate",
               "tpm2-00.permall.bak", "tpm2-00.permall.journal",
               "TMP2-00.permall.bak", "TMP2-00.permall.journal",
               # the checksum sidecar (docs/state.md §7.4) and its temp name
               "tpm2-00.permall.sum", "TMP2-00.permall.sum"}
ITERATIONS = int(os.environ.get("SWTPM_SOAK_ITERATIONS", "15"))


def start_and_init(tmp_path, state, define=False, extra=()):
    """Daemon on state, INIT, Startup(CLEAR); optionally define the index."""
    t = CuseTPM(tmp_path, state=state, extra=list(extra))
    t.start()
    d = t.open()
    assert d.init() == 0, "INIT failed: state did not load\n" + t.read_log()
    assert rc_of(d.cmd(rh.startup_clear())) == 0
    if define:
        rc = rc_of(d.cmd(rh.nv_define(NV_INDEX, NV_SIZE)))
        assert rc == 0, "NV_DefineSpace rc 0x%x" % rc
    return t, d


def read_counter(d):
    r = d.cmd(rh.nv_read(NV_INDEX, NV_SIZE))
    assert rc_of(r) == 0, "NV_Read rc 0x%x" % rc_of(r)
    return struct.unpack(">Q", rh.nv_read_data(r))[0]


def write_counter(d, v):
    return rc_of(d.cmd(rh.nv_write(NV_INDEX, struct.pack(">Q", v))))


def test_sigkill_during_nv_writes_keeps_acknowledged_writes(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    rng = random.Random(os.environ.get("SWTPM_SOAK_SEED", "7"))
    t, d = start_and_init(tmp_path, state, define=True)
    assert write_counter(d, 0) == 0
    acked, inflight = 0, None
    value = 0
    writes = 0
    try:
        for it in range(ITERATIONS):
            delay = rng.uniform(0.02, 0.4)
            timer = threading.Timer(delay, t.kill)
            timer.start()
            inflight = None
            try:
                while True:
                    value += 1
                    inflight = value
                    if write_counter(d, value) != 0:
                        break
                    acked, inflight = value, None
                    writes += 1
            except OSError:
                pass        # the daemon died under us
            timer.join()
            t.kill()
            d.close()
            t.check_log_clean()
            t, d = start_and_init(tmp_path, state)
            got = read_counter(d)
            assert got == acked or got == inflight, (
                "iteration %d: NV holds %d, last acknowledged %d, in flight"
                " %s" % (it, got, acked, inflight))
            acked = got
            # Only state, lock and at most a stale temp file (rewritten
            # from scratch by the next save, never read).
            assert set(os.listdir(state)) <= STATE_FILES, os.listdir(state)
        print("soak: %d iterations, %d acknowledged NV writes" % (
            ITERATIONS, writes))
    finally:
        d.close()
        t.stop()
        t.kill()
    t.check_log_clean()


def _mount_tmpfs(path, size):
    path.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=0700" % size,
                    "tmpfs", str(path)], check=True)


def _umount(path):
    subprocess.run(["umount", "-l", str(path)], check=False)


def _serving(t, d):
    """The daemon still answers commands and control requests (libtpms
    may be in failure mode after a failed NV commit: TPM_RC_FAILURE)."""
    assert t.alive(), t.read_log()
    d.caps()
    r = d.cmd(rh.get_random(8))
    assert len(r) >= 10, r


def _journaled_write_survives(tmp_path, state, break_fs, unbreak_fs,
                              extra=()):
    """Write 1, break the file system, write 2: the journal's preallocated
    slot takes it durably, so it is acknowledged; the checkpoint at exit
    cannot be written, so 2 stays in the journal; restart: NV holds 2."""
    t, d = start_and_init(tmp_path, state, define=True, extra=extra)

    def body():
        assert write_counter(d, 1) == 0
        break_fs()
        assert write_counter(d, 2) == 0, t.read_log()
    _broken_round(t, d, body, "stays in the journal file")
    unbreak_fs()
    _reload_and_check(tmp_path, state, extra, expect=2)


def _broken_round(t, d, body, logged):
    """Run body, check the daemon still serves, stop it; its log must be
    clean and say logged.  Returns body's result."""
    try:
        res = body()
        _serving(t, d)
    finally:
        d.close()
        t.stop()
        t.kill()
    t.check_log_clean()
    assert logged in t.read_log(), t.read_log()
    return res


def _unjournaled_write_fails(tmp_path, state, break_fs, unbreak_fs,
                             extra=()):
    """State with NV 1 as upstream swtpm leaves it (no journal, no .bak);
    break the file system after INIT: the first state write needs new
    space (the journal), so Startup or NV_Write fails with a TPM error,
    the daemon keeps serving, and after a restart NV holds 1."""
    t, d = start_and_init(tmp_path, state, define=True, extra=extra)
    try:
        assert write_counter(d, 1) == 0
    finally:
        d.close()
        t.stop()
    for f in os.listdir(state):
        if f.endswith((".journal", ".bak")):
            os.unlink(state / f)
    t = CuseTPM(tmp_path, state=state, extra=list(extra))
    t.start()
    d = t.open()

    def body():
        assert d.init() == 0, t.read_log()
        break_fs()
        rc = rc_of(d.cmd(rh.startup_clear()))
        if rc == 0:
            rc = write_counter(d, 2)
        assert rc != 0, "state write succeeded\n" + t.read_log()
        return rc
    rc = _broken_round(t, d, body, "cannot store TPM state")
    unbreak_fs()
    _reload_and_check(tmp_path, state, extra, expect=1)
    return rc


def _reload_and_check(tmp_path, state, extra=(), expect=1):
    with cuse_tpm(tmp_path, state=state, extra=list(extra)) as t2:
        with t2.open() as d:
            assert d.init() == 0, t2.read_log()
            assert rc_of(d.cmd(rh.startup_clear())) == 0
            assert read_counter(d) == expect


def _filler(mnt):
    def fill():
        fd = os.open(mnt / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while True:
                os.write(fd, b"\0" * 4096)
        except OSError:
            pass        # ENOSPC: full
        finally:
            os.close(fd)

    def unfill():
        os.unlink(mnt / "filler")
    return fill, unfill


@pytest.mark.parametrize("journaled", [True, False])
def test_disk_full_nv_write_durable_or_fails_and_old_state_survives(
        tmp_path, journaled):
    mnt = tmp_path / "small"
    _mount_tmpfs(mnt, "512k")
    try:
        state = mnt / "state"
        state.mkdir()
        fill, unfill = _filler(mnt)
        if journaled:
            _journaled_write_survives(tmp_path, state, fill, unfill)
        else:
            rc = _unjournaled_write_fails(tmp_path, state, fill, unfill)
            print("disk full: rc 0x%x" % rc)
    finally:
        _umount(mnt)


@pytest.mark.parametrize("journaled", [True, False])
def test_state_dir_made_read_only_while_running(tmp_path, journaled):
    """A read-only remount is refused while the daemon holds its lock file
    open for writing (EBUSY), so take write permission away instead; the
    daemon runs as nobody so that root's override does not apply."""
    os.chmod(tmp_path, 0o777)
    state = tmp_path / "state"
    state.mkdir()
    os.chown(state, 65534, 65534)
    extra = ["-r", "65534"]

    def ro():
        os.chmod(state, 0o555)

    def rw():
        os.chmod(state, 0o755)
    try:
        if journaled:
            _journaled_write_survives(tmp_path, state, ro, rw, extra)
        else:
            rc = _unjournaled_write_fails(tmp_path, state, ro, rw, extra)
            print("read-only dir: rc 0x%x" % rc)
    finally:
        os.chmod(state, 0o755)


def test_read_only_file_system_refused_clearly(tmp_path):
    """A state dir on a read-only file system: no lock file can be made.
    The start fails naming the directory and the reason (it used to say
    'locked by another process')."""
    mnt = tmp_path / "ro"
    _mount_tmpfs(mnt, "4m")
    try:
        state = mnt / "state"
        state.mkdir()
        t, d = start_and_init(tmp_path, state, define=True)
        assert write_counter(d, 1) == 0
        busy = subprocess.run(["mount", "-o", "remount,ro", str(mnt)],
                              capture_output=True)
        assert busy.returncode != 0      # lock file open for writing
        d.close()
        t.stop()
        os.unlink(state / ".lock")
        subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
        t2 = CuseTPM(tmp_path, state=state)
        p = t2.start(check=False)
        assert p.returncode != 0
        assert "Read-only file system" in p.stderr, p.stderr
        assert str(state) in p.stderr and "locked" not in p.stderr
        assert not os.path.exists(t2.dev)
        # Copied somewhere writable, the state loads with its NV data.
        copy = tmp_path / "copy"
        shutil.copytree(state, copy)
        _reload_and_check(tmp_path, copy)
    finally:
        _umount(mnt)
