# SPDX-License-Identifier: BSD-3-Clause
"""State on disk and in blobs: persistence across restarts, encrypted
state, migration between devices, the directory lock, and damaged files
(which must fail clearly and stay byte-identical)."""
import hashlib
import os
import signal
import struct
import subprocess
import threading
import time

import pytest

from helpers_cuse import (TPM2_STARTUP_CLEAR, CuseTPM, cuse_tpm, rc_of,
                          tpm2, tpm2_ok)

pytestmark = pytest.mark.cuse

NV = "0x1500020"
SECRET = b"persist-me-0123456789abcdefghij!"  # 32 bytes


def digest_dir(path):
    out = {}
    for name in sorted(os.listdir(path)):
        if name == ".lock":
            continue
        with open(os.path.join(path, name), "rb") as f:
            out[name] = hashlib.sha256(f.read()).hexdigest()
    return out


def init_and_start(t, startup=True):
    with t.open() as d:
        assert d.init() == 0
        if startup:
            assert rc_of(d.cmd(TPM2_STARTUP_CLEAR)) == 0


def write_nv(t, tmp_path):
    data = tmp_path / "secret.bin"
    data.write_bytes(SECRET)
    tpm2_ok(["tpm2_nvdefine", NV, "-C", "o", "-s", str(len(SECRET)), "-a",
             "ownerread|ownerwrite"], t.dev)
    tpm2_ok(["tpm2_nvwrite", NV, "-C", "o", "-i", str(data)], t.dev)


def read_nv(t):
    return tpm2_ok(["tpm2_nvread", NV, "-C", "o", "-s", str(len(SECRET))],
                   t.dev)


def test_nv_survives_restart(tmp_path):
    state = tmp_path / "st"
    with cuse_tpm(tmp_path, state=state) as t:
        init_and_start(t)
        write_nv(t, tmp_path)
    with cuse_tpm(tmp_path, state=state) as t:
        init_and_start(t)
        assert read_nv(t) == SECRET


def test_nv_survives_sigkill(tmp_path):
    """An acknowledged NV write is on disk: no fsync was skipped."""
    state = tmp_path / "st"
    t = CuseTPM(tmp_path, state=state)
    t.start()
    try:
        init_and_start(t)
        write_nv(t, tmp_path)
    finally:
        t.kill()
    with cuse_tpm(tmp_path, state=state) as t2:
        init_and_start(t2)
        assert read_nv(t2) == SECRET


@pytest.mark.parametrize("keyspec", [
    ("hex128", "aes-128-cbc"), ("hex256", "aes-256-cbc"),
    ("pwd", "aes-256-cbc")])
def test_encrypted_state(tmp_path, keyspec):
    kind, mode = keyspec
    state = tmp_path / "st"
    keyfile = tmp_path / "key"
    if kind == "hex128":
        keyfile.write_text("0x" + "11" * 16 + "\n")
        opt = "file=%s,mode=%s" % (keyfile, mode)
    elif kind == "hex256":
        keyfile.write_text("22" * 32)
        opt = "file=%s,mode=%s" % (keyfile, mode)
    else:
        keyfile.write_bytes(b"correct horse battery staple\n")
        opt = "pwdfile=%s,mode=%s" % (keyfile, mode)
    with cuse_tpm(tmp_path, state=state, extra=["--key", opt]) as t:
        init_and_start(t)
        with t.open() as d:
            assert d.get_config() == (0, 1)
        write_nv(t, tmp_path)
    permall = (state / "tpm2-00.permall").read_bytes()
    flags = struct.unpack(">H", permall[4:6])[0]
    assert flags == (0x9 if mode == "aes-256-cbc" else 0x1)
    assert SECRET not in permall
    # the right key loads it again
    with cuse_tpm(tmp_path, state=state, extra=["--key", opt]) as t:
        init_and_start(t)
        assert read_nv(t) == SECRET
    # a wrong key fails clearly and changes no file
    before = digest_dir(state)
    wrong = tmp_path / "wrong"
    wrong.write_text("33" * (32 if mode == "aes-256-cbc" else 16))
    wopt = "file=%s,mode=%s" % (wrong, mode)
    with cuse_tpm(tmp_path, state=state, extra=["--key", wopt]) as t:
        with t.open() as d:
            assert d.init() != 0
        assert "TPM start failed" in t.read_log()
    assert digest_dir(state) == before
    # no key at all on an encrypted state: also a clear failure
    with cuse_tpm(tmp_path, state=state) as t:
        with t.open() as d:
            assert d.init() != 0
    assert digest_dir(state) == before


def migrate(tmp_path, src_extra=(), dst_extra=()):
    """NV + PCR on a source device, blobs into a fresh destination."""
    with cuse_tpm(tmp_path, extra=list(src_extra)) as a:
        init_and_start(a)
        write_nv(a, tmp_path)
        tpm2_ok(["tpm2_pcrextend", "16:sha256=" + "cd" * 32], a.dev)
        pcr_a = tpm2_ok(["tpm2_pcrread", "sha256:16"], a.dev)
        with a.open() as d:
            r1, f1, perm = d.get_blob(1)
            r2, f2, vol = d.get_blob(2)
        assert r1 == 0 and r2 == 0
    with cuse_tpm(tmp_path, extra=list(dst_extra)) as b:
        with b.open() as d:
            res1 = d.set_blob(1, perm, f1)
            res2 = d.set_blob(2, vol, f2) if res1 == 0 else None
            if res1 or res2:
                return perm, (res1, res2), None
            assert d.init() == 0
        # resumed from the volatile state: no Startup needed
        assert read_nv(b) == SECRET
        pcr_b = tpm2_ok(["tpm2_pcrread", "sha256:16"], b.dev)
        assert pcr_a == pcr_b
    return perm, (0, 0), pcr_b


def test_migration_plain(tmp_path):
    perm, res, _ = migrate(tmp_path)
    assert res == (0, 0)
    assert struct.unpack(">H", perm[4:6])[0] == 0x4


def test_migration_with_migration_key(tmp_path):
    k = tmp_path / "mig.key"
    k.write_text("44" * 16)
    opt = ["--migration-key", "file=%s" % k]
    perm, res, _ = migrate(tmp_path, opt, opt)
    assert res == (0, 0)
    assert struct.unpack(">H", perm[4:6])[0] & 0x2
    # the destination without the key refuses with TPM_KEYNOTFOUND
    perm, res, _ = migrate(tmp_path, opt, ())
    assert res[0] == 0x0D


def test_migration_garbage_blob_refused_and_state_kept(tmp_path):
    with cuse_tpm(tmp_path) as t:
        init_and_start(t)
        write_nv(t, tmp_path)
        with t.open() as d:
            assert d.res("STOP") == 0
            before = digest_dir(t.state)
            for blob in (b"\x02\x01\x00\x0a\x00\x04\x00\x00\xff\xff" + b"x",
                         b"garbage" * 100, b"\x02\x01\x00\x0a\x00\x04\x00"
                         b"\x00\x00\x10\x00\x04\xff\xff\xff\xf0"):
                assert d.set_blob(1, blob) != 0
            assert digest_dir(t.state) == before
            assert d.init() == 0
            assert rc_of(d.cmd(TPM2_STARTUP_CLEAR)) == 0
        assert read_nv(t) == SECRET


def test_second_instance_on_same_dir_fails_at_once(tmp_path):
    state = tmp_path / "st"
    with cuse_tpm(tmp_path, state=state) as t:
        t2 = CuseTPM(tmp_path, state=state)
        p = t2.start(check=False)
        assert p.returncode == 255
        assert str(state) in p.stderr
        assert "process %d" % t.pid in p.stderr
        assert not os.path.exists(t2.dev)
        # the first one is unaffected
        init_and_start(t)


def test_sigterm_ends_a_lock_storage_wait(tmp_path):
    """After --migration release-lock-outgoing gave the lock to another
    instance, LOCK_STORAGE with retries 0xffffffff waits (at most 3 s);
    SIGTERM ends that wait at once and the daemon exits."""
    state = tmp_path / "st"
    a = CuseTPM(tmp_path, state=state,
                extra=["--migration", "release-lock-outgoing"])
    a.start()
    b = None
    try:
        init_and_start(a)
        with a.open() as d:
            d.get_blob(3)       # savestate: gives the lock up
        b = CuseTPM(tmp_path, state=state)
        b.start()
        result = {}

        def lock_storage():
            try:
                with a.open() as d:
                    result["rc"] = d.lock_storage(0xffffffff)
            except OSError as e:
                result["error"] = e
        t = threading.Thread(target=lock_storage)
        t.start()
        deadline = time.monotonic() + 30
        while "waiting up to 3000 ms for the lock" not in a.read_log():
            assert time.monotonic() < deadline, a.read_log()
            time.sleep(0.02)
        os.kill(a.pid, signal.SIGTERM)
        t.join(30)
        assert not t.is_alive()
        assert result.get("rc", 9) == 9, result
        deadline = time.monotonic() + 10
        while a.alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not a.alive(), "swtpm_cuse did not exit on SIGTERM"
        log = a.read_log()
        assert "stopped waiting for the lock" in log, log
        a.check_log_clean()
        # B, the holder, is unaffected.
        assert (state / ".lock").read_text() == str(b.pid)
        init_and_start(b)
    finally:
        a.stop()
        a.kill()
        if b:
            b.stop()
            b.kill()


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty",
                                    "header"])
def test_damaged_state_fails_clearly(tmp_path, damage):
    """Every generation of permall damaged (the file, its .bak and the
    journal's slots; an intact journal slot would load, row 95j): INIT
    fails, nothing is changed."""
    state = tmp_path / "st"
    with cuse_tpm(tmp_path, state=state) as t:
        init_and_start(t)
    jnl = state / "tpm2-00.permall.journal"
    if jnl.exists():
        jnl.write_bytes(bytes(jnl.stat().st_size))
    for name in ("tpm2-00.permall", "tpm2-00.permall.bak"):
        p = state / name
        if not p.exists():
            continue
        data = p.read_bytes()
        if damage == "truncate":
            p.write_bytes(data[:len(data) // 2])
        elif damage == "garbage":
            p.write_bytes(os.urandom(len(data)))
        elif damage == "empty":
            p.write_bytes(b"")
        else:
            p.write_bytes(b"\x02\x01\x00\x0a\x00\x00\xff\xff\xff\xff" +
                          data[10:])
    before = digest_dir(state)
    with cuse_tpm(tmp_path, state=state) as t:
        with t.open() as d:
            assert d.init() != 0
            # the daemon keeps serving control commands
            assert d.caps() == 0x16FFF
        assert "tpm2-00.permall" in t.read_log() or \
            "TPM start failed" in t.read_log()
    assert digest_dir(state) == before


def test_damaged_state_falls_back_to_previous_generation(tmp_path):
    """permall damaged: INIT loads the newest intact generation, the
    journal's slot (which extends the .bak), and one log line names both;
    without the journal, the .bak; nothing is deleted."""
    state = tmp_path / "st"
    with cuse_tpm(tmp_path, state=state) as t:
        init_and_start(t)
    assert (state / "tpm2-00.permall.bak").exists()
    p = state / "tpm2-00.permall"
    p.write_bytes(p.read_bytes()[:20])
    with cuse_tpm(tmp_path, state=state) as t:
        init_and_start(t)
        log = t.read_log()
    assert "state file '%s' is damaged" % p in log, log
    assert ("loaded its newest generation from the journal '%s.journal'"
            % p) in log, log
    (state / "tpm2-00.permall.journal").unlink()
    p.write_bytes(p.read_bytes()[:20])      # the stop's checkpoint fixed it
    with cuse_tpm(tmp_path, state=state) as t:
        init_and_start(t)
        log = t.read_log()
    assert "state file '%s' is damaged" % p in log, log
    assert "loaded the previous generation '%s.bak' instead" % p in log, log
    assert (state / "tpm2-00.permall.bak").exists()


def test_unwritable_state_dir_fails_cleanly(tmp_path):
    """A state dir the daemon cannot write: NV writes fail, old state
    stays (runs as nobody so root's override does not apply)."""
    state = tmp_path / "st"
    with cuse_tpm(tmp_path, state=state) as t:
        init_and_start(t)
        write_nv(t, tmp_path)
    before = digest_dir(state)
    os.chmod(state, 0o755)
    for f in os.listdir(state):
        os.chmod(state / f, 0o644)
    with cuse_tpm(tmp_path, state=state, extra=["-r", "nobody"]) as t:
        with t.open() as d:
            assert d.init() == 0     # reading the state works
            d.cmd(TPM2_STARTUP_CLEAR)
        p = tpm2(["tpm2_nvdefine", "0x1500021", "-C", "o", "-s", "8"],
                 t.dev)
        assert p.returncode != 0
        assert "cannot store TPM state" in t.read_log()
        assert "previous state is unchanged" in t.read_log()
    after = digest_dir(state)
    assert after == before
    assert not [f for f in os.listdir(state) if f.startswith("TMP")]


def test_lock_false_allows_a_second_reader(tmp_path):
    """--tpmstate lock=false: no lock is taken (upstream's option), so a
    second daemon may start on the directory; the default locks."""
    state = tmp_path / "st"
    with cuse_tpm(tmp_path, state=state) as t:
        init_and_start(t)
    t = CuseTPM(tmp_path, state=state)
    t.args[t.args.index("--tpmstate") + 1] = "dir=%s,lock=false" % state
    t.start()
    try:
        init_and_start(t)
        t2 = CuseTPM(tmp_path, state=state)
        t2.args[t2.args.index("--tpmstate") + 1] = "dir=%s,lock=false" % state
        t2.start()
        t2.stop()
    finally:
        t.stop()


def test_file_backend_persists_locks_and_survives_sigkill(tmp_path):
    """swtpm_cuse with --tpmstate backend-uri=file://: the file is
    created in upstream's linear layout, a second device on it is
    refused at once, and an acknowledged NV write survives SIGKILL."""
    path = tmp_path / "tpm2.state"
    spec = "backend-uri=file://%s" % path
    t = CuseTPM(tmp_path, tpmstate=spec)
    t.start()
    try:
        init_and_start(t)
        write_nv(t, tmp_path)
        t2 = CuseTPM(tmp_path, tpmstate=spec)
        p = t2.start(check=False)
        assert p.returncode == 255, p.stderr
        assert "cannot lock TPM state file '%s': it is in use by another " \
            "process" % path in p.stderr, p.stderr
        assert not os.path.exists(t2.dev)
        assert read_nv(t) == SECRET
    finally:
        t.kill()
    with open(path, "rb") as f:
        assert f.read(8) == b"nilmptws"
    with cuse_tpm(tmp_path, tpmstate=spec) as t3:
        init_and_start(t3)
        assert read_nv(t3) == SECRET
