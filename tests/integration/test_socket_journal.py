# SPDX-License-Identifier: BSD-3-Clause
"""permall's journal seen from outside (docs/robustness.md, state store
v2): one flush per acknowledged NV_Write (counted with strace, which is
deterministic), acknowledged writes surviving SIGKILL of the daemon, and
the state files read by Debian's swtpm 0.7.1 after our clean stop (and
ours after its writes)."""
import os
import re
import shutil
import signal
import subprocess

import pytest

import helpers_reliability as rh
from helpers_socket import SWTPM, SwtpmServer
from helpers_swtpm import OurSwtpm, rc_of

NV_INDEX = 0x01500020
NV_SIZE = 16
FLUSH_CALLS = ("fsync", "fdatasync", "sync_file_range", "msync", "syncfs",
               "sync")


def value(i):
    return ("value %08d" % i).encode().ljust(NV_SIZE, b".")


def nv_setup(srv):
    assert srv.startup() == 0
    rc = rc_of(srv.tpm_cmd(rh.nv_define(NV_INDEX, NV_SIZE)))
    assert rc in (0, rh.TPM_RC_NV_DEFINED), hex(rc)


def nv_write(srv, sock, i):
    rc = rc_of(srv.tpm_cmd(rh.nv_write(NV_INDEX, value(i)), sock=sock))
    assert rc == 0, hex(rc)


def nv_read(srv):
    resp = srv.tpm_cmd(rh.nv_read(NV_INDEX, NV_SIZE))
    assert rc_of(resp) == 0, resp.hex()
    return rh.nv_read_data(resp)


def strace_attach(pid, out):
    """strace -c on a running process; returns once every thread is
    traced."""
    threads = len(os.listdir("/proc/%d/task" % pid))
    p = subprocess.Popen(["strace", "-f", "-c", "-o", str(out), "-e",
                          "trace=" + ",".join(FLUSH_CALLS), "-p", str(pid)],
                         stderr=subprocess.PIPE, text=True)
    seen = 0
    while seen < threads:
        line = p.stderr.readline()
        assert line, "strace exited early"
        if "attached" in line:
            seen += 1
    return p


def strace_total(out):
    total = 0
    for line in out.read_text().splitlines():
        parts = line.split()
        if len(parts) in (5, 6) and parts[-1] in FLUSH_CALLS:
            total += int(parts[3])
    return total


@pytest.mark.skipif(not shutil.which("strace"), reason="needs strace")
def test_nv_write_costs_exactly_one_flush(tmp_path):
    srv = OurSwtpm(tmp_path, transport="unix")
    try:
        nv_setup(srv)
        with srv.connect_data() as s:
            nv_write(srv, s, 0)     # first journal write creates the file
            out = tmp_path / "strace.out"
            tracer = strace_attach(srv.proc.pid, out)
            n = 20
            for i in range(1, n + 1):
                nv_write(srv, s, i)
            # Unchanged content is durable already: no flush.
            nv_write(srv, s, n)
            tracer.send_signal(signal.SIGINT)
            tracer.wait(timeout=30)
        # Durable (at least one flush each), and no more than one.
        assert strace_total(out) == n, out.read_text()
        assert (srv.statedir / "tpm2-00.permall.journal").exists()
    finally:
        srv.stop()
    srv.check_stderr()


def test_acknowledged_writes_survive_sigkill(tmp_path):
    srv = OurSwtpm(tmp_path, transport="unix")
    nv_setup(srv)
    with srv.connect_data() as s:
        for i in range(30):
            nv_write(srv, s, i)
    srv.stop()                      # SIGKILL: no checkpoint
    srv = OurSwtpm(tmp_path, transport="unix")
    try:
        assert srv.startup() == 0
        assert nv_read(srv) == value(29)
    finally:
        srv.stop()
    srv.check_stderr()


@pytest.mark.skipif(not os.access(SWTPM, os.X_OK),
                    reason="needs Debian's swtpm")
def test_upstream_reads_state_after_clean_stop(tmp_path):
    srv = OurSwtpm(tmp_path, transport="unix")
    nv_setup(srv)
    with srv.connect_data() as s:
        for i in range(10):
            nv_write(srv, s, i)
    srv.stop()                      # crash: the newest value is journaled
    srv = OurSwtpm(tmp_path, transport="unix")
    assert srv.startup() == 0
    nv_write(srv, None, 10)
    assert srv.terminate(signal.SIGTERM) == 0   # clean: checkpoint
    srv.stop()
    srv.check_stderr()
    assert (srv.statedir / "tpm2-00.permall.bak").exists()
    up = SwtpmServer(tmp_path, tpm2=True, transport="unix")
    try:
        assert up.startup() == 0
        assert nv_read(up) == value(10)
        # Upstream writes the main file itself; our journal is stale now.
        assert rc_of(up.tpm_cmd(rh.nv_write(NV_INDEX, value(99)))) == 0
    finally:
        up.stop()
    srv = OurSwtpm(tmp_path, transport="unix")
    try:
        assert srv.startup() == 0
        assert nv_read(srv) == value(99)
    finally:
        srv.stop()
    srv.check_stderr()


def test_damaged_state_falls_back_to_previous_generation(tmp_path):
    srv = OurSwtpm(tmp_path, transport="unix")
    nv_setup(srv)
    nv_write(srv, None, 1)
    assert srv.terminate(signal.SIGTERM) == 0
    srv.stop()
    srv = OurSwtpm(tmp_path, transport="unix")
    assert srv.startup() == 0
    nv_write(srv, None, 2)
    assert srv.terminate(signal.SIGTERM) == 0   # .bak holds value 1
    srv.stop()
    main = srv.statedir / "tpm2-00.permall"
    good = main.read_bytes()
    main.write_bytes(good[:len(good) // 2])     # torn by hand
    # The checkpoint's journal slot holds value 2, acknowledged: it wins.
    srv = OurSwtpm(tmp_path, transport="unix")
    try:
        assert srv.startup() == 0
        assert nv_read(srv) == value(2)
    finally:
        srv.stop()
    err = srv.stderr()
    assert re.search(r"state file '.*/tpm2-00.permall' is damaged .*; "
                     r"loaded its newest generation from the journal "
                     r"'.*/tpm2-00.permall.journal' \(sequence \d+\) "
                     r"instead", err), err
    # Without the journal, the previous generation is what is left.
    (srv.statedir / "tpm2-00.permall.journal").unlink()
    srv = OurSwtpm(tmp_path, transport="unix")
    try:
        assert srv.startup() == 0
        assert nv_read(srv) == value(1)
    finally:
        srv.stop()
    err = srv.stderr()
    assert re.search(r"state file '.*/tpm2-00.permall' is damaged .*; "
                     r"loaded the previous generation "
                     r"'.*/tpm2-00.permall.bak' instead", err), err
    # Nothing deleted: the damaged file is still there for inspection.
    assert main.exists()
    assert (srv.statedir / "tpm2-00.permall.bak").exists()
