# SPDX-License-Identifier: BSD-3-Clause
"""The checksum sidecar tpm2-00.permall.sum (docs/state.md §7.4): a main
file changed in place after we wrote it, even by one byte that still
parses (libtpms would enter failure mode in NvPowerOn, INIT 0x101), is
taken as damaged, and the newest verified generation of the same TPM
loads instead: the journal's newest slot, else .bak."""
import os
import re
import struct

from helpers_setup import ok, run_setup
from helpers_swtpm import OurSwtpm, rc_of, refused_init_stderr
import helpers_reliability as rh

NV_INDEX = 0x01500040
NV_SIZE = 16
CMD_INIT = 2


def value(i):
    return ("value %08d" % i).encode().ljust(NV_SIZE, b".")


def init(srv):
    r = srv.ctrl(CMD_INIT, struct.pack(">I", 0))
    return struct.unpack(">I", r[:4])[0]


def start(work):
    srv = OurSwtpm(work, running=False)
    assert init(srv) == 0, str(srv)
    assert srv.startup() in (0, 0x100)
    return srv


def nv_write(srv, i):
    rc = rc_of(srv.tpm_cmd(rh.nv_write(NV_INDEX, value(i))))
    assert rc == 0, hex(rc)


def nv_read(srv):
    resp = srv.tpm_cmd(rh.nv_read(NV_INDEX, NV_SIZE))
    assert rc_of(resp) == 0, resp.hex()
    return rh.nv_read_data(resp)


# In this TPM's 6204-byte permall, bit 2 of byte 5370 (NV index data)
# sends libtpms into failure mode in NvPowerOn; most other bytes load
# silently with the damage.
NV_BYTE = 5370


def flip(path, off=None):
    """One bit flipped in place (same inode, same size), as bit rot on the
    disk leaves it; off: the byte, else the middle."""
    data = bytearray(path.read_bytes())
    data[len(data) // 2 if off is None else off] ^= 0x04
    with open(path, "r+b") as f:
        f.write(data)
    return bytes(data)


def setup_with_history(work):
    """swtpm_setup, then two clean runs: .bak holds value 1, the main file
    and the journal's newest slot value 2."""
    (work / "state").mkdir()
    ok(run_setup("--tpm2", "--createek", "--tpmstate", work / "state",
                 xdg=work / "xdg"))
    srv = start(work)
    rc = rc_of(srv.tpm_cmd(rh.nv_define(NV_INDEX, NV_SIZE)))
    assert rc == 0, hex(rc)
    nv_write(srv, 1)
    assert srv.terminate() == 0
    srv.stop()
    srv = start(work)
    nv_write(srv, 2)
    assert srv.terminate() == 0
    srv.stop()
    return work / "state"


def test_flipped_byte_in_main_loads_the_journals_newest_slot(tmp_path):
    """Before the sidecar: INIT 0x101 (libtpms' failure mode) although an
    intact journal slot and .bak of the same TPM were there."""
    st = setup_with_history(tmp_path)
    assert (st / "tpm2-00.permall").stat().st_size == 6204
    bad = flip(st / "tpm2-00.permall", NV_BYTE)
    srv = start(tmp_path)
    try:
        assert nv_read(srv) == value(2)
        assert srv.terminate() == 0     # the checkpoint keeps it aside
    finally:
        srv.stop()
    err = srv.stderr()
    found = re.findall(r"state file '.*/tpm2-00.permall' is damaged \(its "
                       r"SHA-256 differs from the one recorded in "
                       r"'tpm2-00.permall.sum' when it was written\); "
                       r"loaded its newest generation from the journal "
                       r"'.*/tpm2-00.permall.journal' \(sequence \d+\) "
                       r"instead", err)
    assert len(found) == 1, err
    assert (st / "tpm2-00.permall.damaged").read_bytes() == bad
    srv = start(tmp_path)               # the new main file verifies
    try:
        assert nv_read(srv) == value(2)
        assert srv.terminate() == 0
    finally:
        srv.stop()
    assert "damaged" not in srv.stderr()
    assert (st / "tpm2-00.permall.sum").stat().st_size == 152


def test_flipped_byte_in_main_without_journal_loads_bak(tmp_path):
    st = setup_with_history(tmp_path)
    flip(st / "tpm2-00.permall")
    (st / "tpm2-00.permall.journal").unlink()
    srv = start(tmp_path)
    try:
        assert nv_read(srv) == value(1)
    finally:
        srv.stop()
    assert re.search(r"state file '.*/tpm2-00.permall' is damaged \(its "
                     r"SHA-256 differs .*\); loaded the previous generation "
                     r"'.*/tpm2-00.permall.bak' instead", srv.stderr())


def test_flipped_byte_with_newer_journal_keeps_acknowledged_writes(
        tmp_path):
    """Writes after the last checkpoint are in the journal only; before
    the sidecar the damaged main file was loaded ("does not extend") and
    they were dropped."""
    st = setup_with_history(tmp_path)
    srv = start(tmp_path)
    for i in range(3, 8):
        nv_write(srv, i)
    srv.stop()                          # SIGKILL: 3-7 are journaled
    flip(st / "tpm2-00.permall")
    srv = start(tmp_path)
    try:
        assert nv_read(srv) == value(7)
    finally:
        srv.stop()
    err = srv.stderr()
    assert "does not extend" not in err, err
    assert "loaded its newest generation from the journal" in err, err


def test_every_generation_damaged_names_them(tmp_path):
    st = setup_with_history(tmp_path)
    flip(st / "tpm2-00.permall")
    flip(st / "tpm2-00.permall.bak")
    (st / "tpm2-00.permall.journal").unlink()
    err = refused_init_stderr(tmp_path)
    assert "tpm2-00.permall' is damaged (its SHA-256 differs" in err, err
    assert "'tpm2-00.permall.bak' is not the generation recorded" in err, err
    assert not (st / "tpm2-00.permall.damaged").exists()
    assert sorted(os.listdir(st)) == [
        ".lock", "tpm2-00.permall", "tpm2-00.permall.bak",
        "tpm2-00.permall.sum"]


def test_without_sidecar_a_parseable_flip_is_not_caught(tmp_path):
    """A main file without a sidecar (Debian's swtpm writes none) is not
    verified: the flipped byte reaches libtpms, which enters failure
    mode, as before (docs/robustness.md row 95j)."""
    st = setup_with_history(tmp_path)
    (st / "tpm2-00.permall.sum").unlink()
    (st / "tpm2-00.permall.journal").unlink()
    flip(st / "tpm2-00.permall", NV_BYTE)
    err = refused_init_stderr(tmp_path)
    assert "Entering failure mode; code: 8, location: NvPowerOn" in err, err


def slots(journal):
    """(offset, sequence, payload length) of the journal's two slots
    (docs/robustness.md, "State store v2": 88-byte header, capacity at
    byte 52), newest first."""
    data = journal.read_bytes()
    cap = struct.unpack(">I", data[52:56])[0]
    out = []
    for off in (0, 88 + cap):
        seq, ln = struct.unpack(">QI", data[off + 40:off + 52])
        out.append((off, seq, ln))
    return sorted(out, key=lambda s: -s[1])


def flip_slot(journal, slot):
    off, _, ln = slot
    flip(journal, off + 88 + ln // 2)


def value_in(blob):
    """The counter value an NV write left in a state blob (plain)."""
    m = re.search(rb"value (\d{8})", blob)
    return int(m.group(1)) if m else None


def journaled_writes(work):
    """History, then values 3 and 4 written and SIGKILL: both live in the
    journal only, each slot extending the intact main file (value 2)."""
    st = setup_with_history(work)
    srv = start(work)
    nv_write(srv, 3)
    nv_write(srv, 4)
    srv.stop()                          # SIGKILL
    return st


def test_damaged_newest_journal_slot_loads_the_older_one(tmp_path):
    """A damaged journal with an intact main file: the newest slot's
    write is gone with it (it had no other copy); the older intact slot
    still extends the main file and loads, and the skip is said."""
    st = journaled_writes(tmp_path)
    jnl = st / "tpm2-00.permall.journal"
    new, old = slots(jnl)
    older = value_in(jnl.read_bytes()[old[0] + 88:old[0] + 88 + old[2]])
    assert older in (3, 4), older
    flip_slot(jnl, new)
    srv = start(tmp_path)
    try:
        assert nv_read(srv) == value(older)
    finally:
        srv.stop()
    err = srv.stderr()
    # Said once per start (was: at each of libtpms' reads of the permall).
    assert len(re.findall(r"journal '.*/tpm2-00.permall.journal': slot [AB] "
                          r"is incomplete or damaged", err)) == 1, err
    assert "permall' is damaged" not in err, err     # the main file is not


def test_both_journal_slots_damaged_load_the_intact_main(tmp_path):
    st = journaled_writes(tmp_path)
    jnl = st / "tpm2-00.permall.journal"
    for s in slots(jnl):
        flip_slot(jnl, s)
    srv = start(tmp_path)
    try:
        assert nv_read(srv) == value(2)
        nv_write(srv, 5)                # the journal is usable again
    finally:
        srv.stop()
    err = srv.stderr()
    assert len(re.findall(r"slot [AB] is incomplete or damaged", err)) == 2
    srv = start(tmp_path)
    try:
        assert nv_read(srv) == value(5)
    finally:
        srv.stop()


def test_every_generation_damaged_in_place_names_every_file(tmp_path):
    """Main file, .bak and both journal slots damaged, the sidecar
    intact: INIT fails with one message naming each file and why, and
    nothing is renamed, written or deleted."""
    st = journaled_writes(tmp_path)
    jnl = st / "tpm2-00.permall.journal"
    for s in slots(jnl):
        flip_slot(jnl, s)
    flip(st / "tpm2-00.permall")
    flip(st / "tpm2-00.permall.bak")
    before = {n: (st / n).read_bytes() for n in os.listdir(st)
              if n != ".lock"}
    err = refused_init_stderr(tmp_path)
    assert re.search(r"'.*/tpm2-00.permall' is damaged \(its SHA-256 "
                     r"differs from the one recorded in "
                     r"'tpm2-00.permall.sum' when it was written\); its "
                     r"journal 'tpm2-00.permall.journal' holds no intact "
                     r"slot; and 'tpm2-00.permall.bak' is not the "
                     r"generation recorded before it", err), err
    after = {n: (st / n).read_bytes() for n in os.listdir(st)
             if n != ".lock"}
    assert after == before
