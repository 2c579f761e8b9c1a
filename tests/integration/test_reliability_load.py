# SPDX-License-Identifier: BSD-3-Clause
"""Many CUSE TPMs at once (docs/robustness.md): SWTPM_LOAD_DEVICES
daemons (default 16), each driven by its own client thread through
SWTPM_LOAD_COMMANDS (default 100) mixed commands: GetRandom, PCR_Extend,
PCR_Read (checked against the locally computed PCR value) and NV_Read.
No command may fail.  Prints each instance's Pss and Rss.

For the full run: SWTPM_LOAD_DEVICES=64 tests/vm/run-in-vm --
tests/integration/run -m cuse -k many_devices -s
"""
import hashlib
import os
import struct
import threading
import time

import pytest

import helpers_reliability as rh
from helpers_cuse import CuseTPM, rc_of

pytestmark = pytest.mark.cuse

DEVICES = int(os.environ.get("SWTPM_LOAD_DEVICES", "16"))
COMMANDS = int(os.environ.get("SWTPM_LOAD_COMMANDS", "100"))
NV_INDEX = 0x01500200
PCR = 16


def smaps_kib(pid):
    """(Pss, Rss) in KiB from /proc/PID/smaps_rollup."""
    vals = {}
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            parts = line.split()
            if parts and parts[0] in ("Pss:", "Rss:"):
                vals[parts[0]] = int(parts[1])
    return vals["Pss:"], vals["Rss:"]


def drive(t, i, errors, counts):
    """One client: INIT, Startup, define NV, then the mixed stream."""
    try:
        with t.open() as d:
            assert d.init() == 0
            assert rc_of(d.cmd(rh.startup_clear())) == 0
            assert rc_of(d.cmd(rh.nv_define(NV_INDEX, 8))) == 0
            mine = struct.pack(">Q", i)
            assert rc_of(d.cmd(rh.nv_write(NV_INDEX, mine))) == 0
            pcr = bytes(32)
            n = 0
            for k in range(COMMANDS):
                op = k % 4
                if op == 0:
                    r = d.cmd(rh.get_random(16))
                    assert rc_of(r) == 0 and len(r) == 12 + 16, r.hex()
                elif op == 1:
                    dig = hashlib.sha256(b"%d-%d" % (i, k)).digest()
                    r = d.cmd(rh.pcr_extend(PCR, dig))
                    assert rc_of(r) == 0, "PCR_Extend rc 0x%x" % rc_of(r)
                    pcr = hashlib.sha256(pcr + dig).digest()
                elif op == 2:
                    r = d.cmd(rh.pcr_read(PCR))
                    assert rc_of(r) == 0, "PCR_Read rc 0x%x" % rc_of(r)
                    assert rh.pcr_read_digest(r) == pcr
                else:
                    r = d.cmd(rh.nv_read(NV_INDEX, 8))
                    assert rc_of(r) == 0, "NV_Read rc 0x%x" % rc_of(r)
                    assert rh.nv_read_data(r) == mine
                n += 1
            counts[i] = n
    except BaseException as e:  # reported by the main thread
        errors.append("device %d (%s): %r" % (i, t.dev, e))


def test_many_devices_concurrent_mixed_load(tmp_path):
    tpms = []
    errors, counts = [], [0] * DEVICES
    t0 = time.monotonic()
    try:
        for i in range(DEVICES):
            t = CuseTPM(tmp_path)
            t.start()
            tpms.append(t)
        started = time.monotonic() - t0
        threads = [threading.Thread(target=drive,
                                    args=(t, i, errors, counts))
                   for i, t in enumerate(tpms)]
        t1 = time.monotonic()
        for th in threads:
            th.start()
        for th in threads:
            th.join(timeout=600)
        ran = time.monotonic() - t1
        assert not any(th.is_alive() for th in threads), "clients hung"
        assert not errors, "\n".join(errors)
        assert counts == [COMMANDS] * DEVICES
        total_pss = 0
        for i, t in enumerate(tpms):
            assert t.alive(), t.read_log()
            pss, rss = smaps_kib(t.pid)
            total_pss += pss
            print("load: %s pid %d Pss %d KiB Rss %d KiB" % (
                t.name, t.pid, pss, rss))
        print("load: %d devices started in %.1fs; %d commands each in "
              "%.1fs (%.0f commands/s); total Pss %d KiB" % (
                  DEVICES, started, COMMANDS, ran,
                  DEVICES * (COMMANDS + 4) / ran, total_pss))
    finally:
        for t in tpms:
            try:
                t.stop()
            finally:
                t.kill()
    for t in tpms:
        t.check_log_clean()
