# SPDX-License-Identifier: BSD-3-Clause
"""swtpm_setup --overwrite replaces a TPM as one transaction
(docs/state.md §7.5): killed by SIGKILL before any rename, link, unlink
or flush of the swap (strace's syscall injection), the directory holds
the old TPM with every generation (main file, .bak, journal, sidecar,
byte for byte) or, once the next start has finished the job, only the
new TPM.  The new TPM's permall gets its checksum sidecar from
swtpm_setup, so damage to it is caught before the daemon's first
checkpoint, and no fallback ever brings back the old TPM."""
import hashlib
import os
import re
import shutil
import struct
import subprocess

import pytest

from conftest import tool
from helpers_setup import fail, ok, run_setup
from helpers_swtpm import OurSwtpm, rc_of, refused_init_stderr
import helpers_reliability as rh

NV_INDEX = 0x01500041
NV_SIZE = 16
EK_HANDLE = 0x81010001
SWAP_CALLS = ("renameat", "linkat", "unlinkat", "fsync")
GENERATIONS = ("tpm2-00.permall", "tpm2-00.permall.bak",
               "tpm2-00.permall.journal", "tpm2-00.permall.sum")


def value(i):
    return ("old tpm %08d" % i).encode().ljust(NV_SIZE, b".")


def start(work):
    srv = OurSwtpm(work, running=False)
    assert srv.init() == 0, str(srv)
    assert srv.startup() in (0, 0x100)
    return srv


def ek_public(srv):
    """TPM2_ReadPublic of the EK: its public area, the TPM's identity."""
    resp = srv.tpm_cmd(struct.pack(">HIII", 0x8001, 14, 0x173, EK_HANDLE))
    assert rc_of(resp) == 0, resp.hex()
    return resp[10:]


def nv_value(srv):
    """The old TPM's NV index, or None where it does not exist."""
    resp = srv.tpm_cmd(rh.nv_read(NV_INDEX, NV_SIZE))
    return rh.nv_read_data(resp) if rc_of(resp) == 0 else None


def digests(st):
    return {n: hashlib.sha256((st / n).read_bytes()).hexdigest()
            for n in os.listdir(st) if n != ".lock" and (st / n).is_file()}


def state_names(st, setup_ran):
    """The directory's entries; the scratch directory of a killed
    swtpm_setup is removed by the next swtpm_setup (a daemon leaves it:
    it holds no state of this TPM)."""
    names = sorted(os.listdir(st))
    scratch = [n for n in names if n.startswith(".swtpm_setup.")]
    assert not (setup_ran and scratch), names
    return [n for n in names if n not in scratch]


@pytest.fixture(scope="module")
def old_tpm(tmp_path_factory):
    """An old TPM with every generation: .bak (value 1), the main file and
    the sidecar of the checkpoint, and a journal whose newest slot holds
    value 2 (the daemon was killed after that write)."""
    work = tmp_path_factory.mktemp("old")
    st = work / "state"
    st.mkdir()
    ok(run_setup("--tpm2", "--createek", "--tpmstate", st,
                 xdg=work / "xdg"))
    srv = start(work)
    try:
        assert rc_of(srv.tpm_cmd(rh.nv_define(NV_INDEX, NV_SIZE))) == 0
        assert rc_of(srv.tpm_cmd(rh.nv_write(NV_INDEX, value(1)))) == 0
        assert srv.terminate() == 0
    finally:
        srv.stop()
    srv = start(work)
    try:
        assert rc_of(srv.tpm_cmd(rh.nv_write(NV_INDEX, value(2)))) == 0
        ek = ek_public(srv)
    finally:
        srv.stop()                      # SIGKILL: value 2 is journaled
    assert sorted(os.listdir(st)) == [".lock"] + sorted(GENERATIONS)
    return st, ek, digests(st)


def copy_old(old, work):
    """A copy of the old TPM whose main file is the same inode (its
    sidecar names it by inode and birth time); no swtpm writes a main file
    in place, so the original stays as it was."""
    st = work / "state"
    st.mkdir(parents=True)
    for n in os.listdir(old):
        if n == "tpm2-00.permall":
            os.link(old / n, st / n)
        else:
            shutil.copy2(old / n, st / n)
    return st


OVERWRITE = ("--createek", "--overwrite")
RECONFIGURE = ("--reconfigure", "--pcr-banks", "sha1")


def setup_cmd(st, how=OVERWRITE):
    return [tool("swtpm_setup"), "--tpm2"] + list(how) + \
        ["--tpmstate", str(st)]


def setup_env(work):
    (work / "xdg").mkdir(exist_ok=True)
    (work / "xdg" / "swtpm_setup.conf").write_text("# tests\n")
    return dict(os.environ, XDG_CONFIG_HOME=str(work / "xdg"))


def swap_steps(old, work, how=OVERWRITE):
    """(syscall, n) for each call of SWAP_CALLS from the first staging
    rename on: where a crash of the swap can happen."""
    st = copy_old(old, work)
    trace = work / "trace"
    subprocess.run(["strace", "-f", "-o", str(trace), "-e",
                    "trace=" + ",".join(SWAP_CALLS)] +
                   setup_cmd(st, how), env=setup_env(work),
                   check=True, capture_output=True, timeout=120)
    counts = dict.fromkeys(SWAP_CALLS, 0)
    steps, swapping = [], False
    for line in trace.read_text().splitlines():
        m = re.match(r"\d+ +(\w+)\(", line)
        if not m or m.group(1) not in counts:
            continue
        counts[m.group(1)] += 1
        swapping = swapping or re.search(r'"NEW2-00.permall"\)', line)
        if swapping:
            steps.append((m.group(1), counts[m.group(1)]))
    assert len(steps) > 10, trace.read_text()
    return steps


def crash_at(old, work, call, n, how=OVERWRITE):
    st = copy_old(old, work)
    res = subprocess.run(
        ["strace", "-f", "-o", "/dev/null", "-e", "trace=" + call, "-e",
         "inject=%s:signal=SIGKILL:when=%d" % (call, n)] +
        setup_cmd(st, how), env=setup_env(work),
        capture_output=True, timeout=120)
    # strace ends as its tracee did
    assert res.returncode in (-9, 137), res
    assert "Successfully authored" not in res.stdout.decode(), res
    return st


def restart_after_crash(st, work, how, recover_by_setup, read):
    """The next start after a crash, or first the next swtpm_setup `how`
    (which finishes or drops the last swap first): (digests of st before
    it, the names after INIT, read(server), the log of the runs)."""
    pre = digests(st)
    log = ""
    if recover_by_setup:
        res = ok(run_setup("--tpm2", *how, "--tpmstate", st,
                           xdg=work / "xdg"))
        log = res.out + res.err
    srv = OurSwtpm(work, running=False)
    try:
        assert srv.init() == 0, str(srv)
        names = state_names(st, recover_by_setup)   # nothing written yet
        assert srv.startup() in (0, 0x100)
        got = read(srv)
    finally:
        srv.stop()
    return pre, names, got, log + srv.stderr()


def assert_old_kept(pre, old_digests, names, log, recover_by_setup):
    """The old state with every generation as it was, no swap finished."""
    assert not recover_by_setup, log
    assert {n: pre.get(n) for n in old_digests} == old_digests, log
    assert names == [".lock"] + sorted(GENERATIONS), (names, log)
    assert "completed the replacement" not in log, log


def check_old_or_new(st, old_ek, old_digests, work, recover_by_setup):
    """After the crash, the next start (or swtpm_setup) leaves exactly one
    TPM: the old one with every generation as it was, or the new one
    alone.  ("old" or "new", the log of the runs)."""
    pre, names, (ek, nv), log = restart_after_crash(
        st, work, OVERWRITE, recover_by_setup,
        lambda srv: (ek_public(srv), nv_value(srv)))
    if ek == old_ek:
        assert nv == value(2), log
        assert_old_kept(pre, old_digests, names, log, recover_by_setup)
        return "old", log
    assert nv is None, log
    assert names == [".lock", "tpm2-00.permall", "tpm2-00.permall.sum"], \
        (names, log)
    return "new", log


def crash_series(old, old_digests, tmp_path, how, check):
    """swtpm_setup `how` killed at each step of its swap: before the
    commit point every old file is as it was, after the end only the
    staged names are left over, check(st, work, recover_by_setup) says
    "old" or "new" (and gives the log), a committed swap is finished and
    said once, and the trace covers both sides of the commit point."""
    steps = swap_steps(old, tmp_path / "trace", how)
    seen = {}
    for i, (call, n) in enumerate(steps):
        work = tmp_path / ("%02d-%s-%d" % (i, call, n))
        st = crash_at(old, work, call, n, how)
        before = set(state_names(st, False))
        committed = "NEW2-00.commit" in before
        now = digests(st)
        if not committed and now.get("tpm2-00.permall") == \
                old_digests["tpm2-00.permall"]:
            # Before the commit point no real name has changed.
            assert {k: now.get(k) for k in old_digests} == old_digests, \
                (call, n, sorted(before))
        elif not committed:
            # After the end: only the staged names are left over.
            assert sorted(k for k in before if not k.startswith("NEW2")) \
                == [".lock", "tpm2-00.permall", "tpm2-00.permall.sum"], \
                (call, n, sorted(before))
        got, log = check(st, work, i % 4 == 3)
        if committed or i % 4 == 3:
            assert got == "new", (call, n)
        if committed:
            # swtpm_setup's log, or the daemon's: said once, by the first
            assert log.count("completed the replacement of the TPM state "
                             "in '%s'" % st) == 1, log
        seen[got] = seen.get(got, 0) + 1
    assert seen.get("old") and seen.get("new"), seen


def test_crash_at_every_step_of_the_swap(old_tpm, tmp_path):
    old, old_ek, old_digests = old_tpm
    crash_series(old, old_digests, tmp_path, OVERWRITE,
                 lambda st, work, by_setup: check_old_or_new(
                     st, old_ek, old_digests, work,
                     recover_by_setup=by_setup))


def test_fresh_setup_state_is_verified_before_any_checkpoint(tmp_path):
    """Before, swtpm_setup wrote no sidecar: a byte flipped in a new
    TPM's permall reached libtpms (failure mode), or loaded silently."""
    st = tmp_path / "state"
    st.mkdir()
    ok(run_setup("--tpm2", "--createek", "--tpmstate", st,
                 xdg=tmp_path / "xdg"))
    assert (st / "tpm2-00.permall.sum").stat().st_size == 152
    main = st / "tpm2-00.permall"
    data = bytearray(main.read_bytes())
    data[len(data) // 2] ^= 0x04
    with open(main, "r+b") as f:       # in place: same inode
        f.write(data)
    err = refused_init_stderr(tmp_path)
    assert "tpm2-00.permall' is damaged (its SHA-256 differs from the " \
        "one recorded in 'tpm2-00.permall.sum' when it was written); " \
        "there is no journal 'tpm2-00.permall.journal' beside it; and " \
        "'tpm2-00.permall.bak' does not exist; restore 'tpm2-00.permall' " \
        "from a backup" in err, err


def test_overwrite_then_damage_never_brings_back_the_old_ek(old_tpm,
                                                             tmp_path):
    old, old_ek, _ = old_tpm
    st = copy_old(old, tmp_path)
    ok(run_setup("--tpm2", "--createek", "--overwrite", "--tpmstate", st,
                 xdg=tmp_path / "xdg"))
    assert sorted(os.listdir(st)) == [".lock", "tpm2-00.permall",
                                      "tpm2-00.permall.sum"]
    srv = start(tmp_path)
    try:
        new_ek = ek_public(srv)
        assert srv.terminate() == 0     # a checkpoint of the new TPM
    finally:
        srv.stop()
    assert new_ek != old_ek
    for damage in ("flip", "truncate"):
        main = st / "tpm2-00.permall"
        data = bytearray(main.read_bytes())
        if damage == "flip":
            data[len(data) // 2] ^= 0x04
        else:
            data = data[:100]
        with open(main, "r+b") as f:
            f.truncate(0)
            f.write(data)
        srv = OurSwtpm(tmp_path, running=False)
        try:
            if srv.init() == 0:
                assert srv.startup() in (0, 0x100)
                assert ek_public(srv) == new_ek, damage
            else:
                assert "is damaged" in srv.stderr(), srv.stderr()
        finally:
            srv.stop()


FILE_CALLS = ("pwrite64", "fdatasync")


def file_state(work, name):
    return "backend-uri=file://%s" % (work / name)


def test_file_backend_crash_at_every_write_of_the_swap(tmp_path):
    """file://: the new TPM's objects go in with one header switch
    (docs/state.md §8.3), so a crash at any pwrite or flush of the swap
    leaves the old TPM (with its NV index) or the new one."""
    old = tmp_path / "old.img"
    ok(run_setup("--tpm2", "--createek", "--tpmstate", "file://%s" % old,
                 xdg=tmp_path / "xdg"))
    srv = OurSwtpm(tmp_path / "o", running=False,
                   tpmstate=file_state(tmp_path, "old.img"))
    try:
        assert srv.init() == 0 and srv.startup() in (0, 0x100)
        assert rc_of(srv.tpm_cmd(rh.nv_define(NV_INDEX, NV_SIZE))) == 0
        assert rc_of(srv.tpm_cmd(rh.nv_write(NV_INDEX, value(1)))) == 0
        old_ek = ek_public(srv)
        assert srv.terminate() == 0
    finally:
        srv.stop()
    trace = tmp_path / "trace"
    shutil.copy(old, tmp_path / "t.img")
    subprocess.run(["strace", "-f", "-o", str(trace), "-e",
                    "trace=" + ",".join(FILE_CALLS), tool("swtpm_setup"),
                    "--tpm2", "--createek", "--overwrite", "--tpmstate",
                    "file://%s" % (tmp_path / "t.img")],
                   env=setup_env(tmp_path), check=True, capture_output=True,
                   timeout=120)
    counts = dict.fromkeys(FILE_CALLS, 0)
    for line in trace.read_text().splitlines():
        m = re.match(r"\d+ +(\w+)\(", line)
        if m and m.group(1) in counts:
            counts[m.group(1)] += 1
    assert counts["fdatasync"] >= 4, trace.read_text()
    seen = {}
    for call in FILE_CALLS:
        for n in range(1, counts[call] + 1):
            img = "%s-%d.img" % (call, n)
            shutil.copy(old, tmp_path / img)
            res = subprocess.run(
                ["strace", "-f", "-o", "/dev/null", "-e", "trace=" + call,
                 "-e", "inject=%s:signal=SIGKILL:when=%d" % (call, n),
                 tool("swtpm_setup"), "--tpm2", "--createek",
                 "--overwrite", "--tpmstate",
                 "file://%s" % (tmp_path / img)],
                env=setup_env(tmp_path), capture_output=True, timeout=120)
            assert res.returncode in (-9, 137), res
            srv = OurSwtpm(tmp_path / img.replace(".img", ""),
                           running=False,
                           tpmstate=file_state(tmp_path, img))
            try:
                assert srv.init() == 0, str(srv)
                assert srv.startup() in (0, 0x100)
                ek, nv = ek_public(srv), nv_value(srv)
            finally:
                srv.stop()
            got = "old" if ek == old_ek else "new"
            assert nv == (value(1) if got == "old" else None), (call, n)
            seen[got] = seen.get(got, 0) + 1
    assert seen.get("old") and seen.get("new"), seen


def file_permall(img):
    """permall's offset, length and record (state.md §8.5) in img."""
    data = img.read_bytes()
    off, length = struct.unpack("<II", data[12:20])
    rec = data[off + length - 74:off + length]
    assert rec[:2] == b"ss", rec.hex()
    return off, length, rec


def test_file_overwrite_then_damage_never_brings_back_the_old_ek(tmp_path):
    """file://: --overwrite gives the new TPM a new identity in every
    object's record; a damaged permall loads its copy, which is the new
    TPM's; both copies damaged refuse the start, never the old EK."""
    img = tmp_path / "t.img"
    st = "file://%s" % img
    ok(run_setup("--tpm2", "--createek", "--tpmstate", st,
                 xdg=tmp_path / "xdg"))
    old_id = file_permall(img)[2][10:26]
    ok(run_setup("--tpm2", "--createek", "--overwrite", "--tpmstate", st,
                 xdg=tmp_path / "xdg"))
    off, length, rec = file_permall(img)
    assert rec[10:26] != old_id
    twin = struct.unpack(">I", rec[38:42])[0]
    tpmstate = file_state(tmp_path, "t.img")
    srv = OurSwtpm(tmp_path / "n", running=False, tpmstate=tpmstate)
    try:
        assert srv.init() == 0 and srv.startup() in (0, 0x100)
        new_ek = ek_public(srv)
    finally:
        srv.stop()
    flip_bytes(img, [off + length // 2])
    srv = OurSwtpm(tmp_path / "d1", running=False, tpmstate=tpmstate)
    try:
        assert srv.init() == 0, str(srv)
        assert srv.startup() in (0, 0x100)
        assert ek_public(srv) == new_ek
    finally:
        srv.stop()
    assert "using its copy at offset %d" % twin in srv.stderr()
    # Startup wrote the state: both copies are intact again; damage both.
    off, length, rec = file_permall(img)
    twin = struct.unpack(">I", rec[38:42])[0]
    flip_bytes(img, [off + length // 2, twin + length // 3])
    srv = OurSwtpm(tmp_path / "d2", running=False, tpmstate=tpmstate)
    try:
        assert srv.init() != 0, str(srv)
    finally:
        srv.stop()
    assert "no intact copy of it is left" in srv.stderr(), srv.stderr()


def flip_bytes(path, offsets):
    with open(path, "r+b") as f:
        for at in offsets:
            f.seek(at)
            b = f.read(1)[0] ^ 0x04
            f.seek(at)
            f.write(bytes([b]))


TPM_ALG_SHA1, TPM_ALG_SHA256 = 0x0004, 0x000B


def pcr_banks(srv):
    """The hash algorithms with PCRs allocated (TPM2_GetCapability of
    TPM_CAP_PCRS): the old TPM's are its defaults, the reconfigured one's
    sha1 alone."""
    resp = srv.tpm_cmd(struct.pack(">HIIIII", 0x8001, 22, 0x17A, 5, 0, 1))
    assert rc_of(resp) == 0, resp.hex()
    off = 10 + 1 + 4
    count = struct.unpack(">I", resp[off:off + 4])[0]
    off += 4
    banks = set()
    for _ in range(count):
        alg, size = struct.unpack(">HB", resp[off:off + 3])
        if any(resp[off + 3:off + 3 + size]):
            banks.add(alg)
        off += 3 + size
    return banks


def sidecar_id(st):
    """The TPM identity that the checksum sidecar records (§7.4)."""
    return (st / "tpm2-00.permall.sum").read_bytes()[16:32]


def check_reconfigured_or_old(st, old_ek, old_digests, old_id, work,
                              recover_by_setup):
    """After a crash of --reconfigure, the next start (or swtpm_setup)
    finds the same TPM (EK, NV index with its journaled value, sidecar
    identity) either as it was, with every generation, or reconfigured,
    alone.  ("old" or "new", the log of the runs)."""
    pre, names, (ek, nv, banks), log = restart_after_crash(
        st, work, RECONFIGURE, recover_by_setup,
        lambda srv: (ek_public(srv), nv_value(srv), pcr_banks(srv)))
    assert ek == old_ek, log
    assert nv == value(2), log
    assert sidecar_id(st) == old_id, log
    if banks != {TPM_ALG_SHA1}:
        assert TPM_ALG_SHA256 in banks, (banks, log)
        assert_old_kept(pre, old_digests, names, log, recover_by_setup)
        return "old", log
    assert names == [".lock", "tpm2-00.permall", "tpm2-00.permall.sum"], \
        (names, log)
    return "new", log


def test_reconfigure_crash_at_every_step_of_the_swap(old_tpm, tmp_path):
    """--reconfigure builds the reconfigured TPM from the newest state
    (the journaled write included) in scratch and swaps it in like
    --overwrite; a crash at any step leaves the TPM as it was with every
    generation, or reconfigured with the same EK, NV and identity."""
    old, old_ek, old_digests = old_tpm
    old_id = sidecar_id(old)
    crash_series(old, old_digests, tmp_path, RECONFIGURE,
                 lambda st, work, by_setup: check_reconfigured_or_old(
                     st, old_ek, old_digests, old_id, work, by_setup))


def test_reconfigure_keeps_the_tpm_and_retires_its_generations(old_tpm,
                                                                tmp_path):
    old, old_ek, _ = old_tpm
    st = copy_old(old, tmp_path)
    old_id = sidecar_id(st)
    ok(run_setup("--tpm2", *RECONFIGURE, "--tpmstate", st,
                 xdg=tmp_path / "xdg"))
    assert sorted(os.listdir(st)) == [".lock", "tpm2-00.permall",
                                      "tpm2-00.permall.sum"]
    assert sidecar_id(st) == old_id
    srv = start(tmp_path)
    try:
        assert ek_public(srv) == old_ek
        assert nv_value(srv) == value(2)    # the journaled write is kept
        assert pcr_banks(srv) == {TPM_ALG_SHA1}
    finally:
        srv.stop()


def test_reconfigure_refuses_a_state_it_cannot_read(old_tpm, tmp_path):
    """A state no start of ours would load (here: a main file cut in
    half, with no other generation left) is not reconfigured: the run
    fails naming it and changes no file."""
    old, _, _ = old_tpm
    st = copy_old(old, tmp_path)
    for n in ("tpm2-00.permall.bak", "tpm2-00.permall.journal"):
        (st / n).unlink()
    main = (st / "tpm2-00.permall").read_bytes()
    (st / "cut").write_bytes(main[:len(main) // 2])   # old stays intact
    os.rename(st / "cut", st / "tpm2-00.permall")
    before = digests(st)
    fail(run_setup("--tpm2", *RECONFIGURE, "--tpmstate", st,
                   xdg=tmp_path / "xdg"),
         "cannot read the TPM state 'permall' in '%s' to reconfigure it"
         % st)
    assert digests(st) == before
    assert sorted(os.listdir(st)) == [".lock", "tpm2-00.permall",
                                      "tpm2-00.permall.sum"]
