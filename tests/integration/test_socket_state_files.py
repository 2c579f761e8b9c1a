# SPDX-License-Identifier: BSD-3-Clause
"""Odd things in the state directory of `swtpm socket`: a FIFO under a
state name never hangs the daemon, a volatile state that cannot be read
fails INIT and is kept, the log says why a state file could not be read,
and TPM_PATH is a path, not sub-options."""
import json
import os
import struct
import subprocess

from conftest import tool
from helpers_swtpm import (OurSwtpm, rc_of,  # noqa: F401
                           refused_init_stderr, swtpm_factory)
import helpers_reliability as rh

CMD_GET_CAPABILITY = 1
CMD_INIT = 2
CMD_STORE_VOLATILE = 10
PTM_INIT_FLAG_DELETE_VOLATILE = 1


def res(b):
    assert len(b) >= 4, b.hex()
    return struct.unpack(">I", b[:4])[0]


def init(srv, flags=0):
    return res(srv.ctrl(CMD_INIT, struct.pack(">I", flags)))


def make_state(srv):
    """A TPM 2 state with permall and volatilestate, then stopped."""
    assert init(srv) == 0
    assert srv.startup() == 0
    assert res(srv.ctrl(CMD_STORE_VOLATILE)) == 0
    assert srv.terminate() == 0


def test_fifo_state_files_do_not_hang(swtpm_factory):
    for name in ("tpm2-00.permall", "tpm2-00.volatilestate"):
        srv = swtpm_factory(running=False)
        if name.endswith("volatilestate"):
            make_state(srv)
            (srv.statedir / name).unlink()
            srv = OurSwtpm(srv.dir, running=False)
        os.mkfifo(srv.statedir / name)
        assert init(srv) != 0, str(srv)
        assert "%s" % name.split(".")[1] in srv.stderr()
        # The control channel still answers and SIGTERM still works.
        assert len(srv.ctrl(CMD_GET_CAPABILITY, resp_len=8)) == 8
        assert srv.terminate() == 0, str(srv)
        assert (srv.statedir / name).exists()
        srv.stop()


def test_fifo_at_temp_name_is_replaced(swtpm_factory):
    srv = swtpm_factory(running=False)
    os.mkfifo(srv.statedir / "TMP2-00.permall")
    assert init(srv) == 0, str(srv)
    assert srv.startup() == 0
    assert (srv.statedir / "tpm2-00.permall").is_file()
    assert srv.terminate() == 0


def test_damaged_volatile_state_fails_init_and_is_kept(swtpm_factory):
    first = swtpm_factory(running=False)
    make_state(first)
    vol = first.statedir / "tpm2-00.volatilestate"
    vol.write_bytes(b"garbage")
    srv = OurSwtpm(first.dir, running=False)
    try:
        # swtpm_ioctl -i asks to delete the volatile state after start.
        assert init(srv, PTM_INIT_FLAG_DELETE_VOLATILE) == 0x101, str(srv)
        assert vol.read_bytes() == b"garbage"
        assert "cannot load TPM state 'volatilestate'" in srv.stderr()
        assert srv.terminate() == 0
    finally:
        srv.stop()


def test_unreadable_state_names_the_reason(swtpm_factory, tmp_path):
    srv = swtpm_factory(running=False)
    (tmp_path / "elsewhere").write_bytes(b"x")
    os.symlink(tmp_path / "elsewhere", srv.statedir / "tpm2-00.permall")
    assert init(srv) != 0
    assert "Too many levels of symbolic links" in srv.stderr(), str(srv)
    assert srv.terminate() == 0


def test_unreadable_main_file_is_refused_not_replaced(swtpm_factory):
    """Owned by root, 0600, the daemon running as nobody: INIT fails with
    0x101 and the log names the file and the missing right; no other
    generation is loaded and nothing is renamed or written."""
    first = swtpm_factory(running=False)
    make_state(first)
    srv = OurSwtpm(first.dir, running=False)
    assert init(srv) == 0
    assert srv.startup() in (0, 0x100)     # 0x100: resumed, started
    assert srv.terminate() == 0     # a checkpoint: .bak and journal exist
    d = first.statedir
    for p in d.parents:             # pytest's tmp dirs are 0700
        if str(p) in ("/", "/tmp"):
            break
        os.chmod(p, os.stat(p).st_mode | 0o711)
    os.chmod(d, 0o777)
    for n in os.listdir(d):
        os.chmod(d / n, 0o666)
    main = d / "tpm2-00.permall"
    os.chmod(main, 0o600)
    # .lock holds the pid of its holder; the state files must not change.
    before = {n: (d / n).read_bytes() for n in os.listdir(d) if n != ".lock"}
    err = refused_init_stderr(first.dir, ["-r", "nobody"])
    assert ("'%s' is not readable by uid 65534 (Permission denied)" % main
            in err), err
    assert "loaded the previous generation" not in err
    after = {n: (d / n).read_bytes() for n in os.listdir(d) if n != ".lock"}
    assert after == before


def test_damaged_main_with_newer_journal_is_refused(swtpm_factory):
    """Writes after the last checkpoint live in the journal only: with the
    main file cut and no sidecar to tie the journal to this TPM (Debian's
    swtpm writes none), .bak would drop them, so INIT fails as Debian's
    does.  With our sidecar the journal's slot is known to extend this
    TPM's main file, and it loads (tests/integration/
    test_socket_state_sum.py)."""
    first = swtpm_factory(running=False)
    make_state(first)
    srv = OurSwtpm(first.dir, running=False)
    assert init(srv) == 0
    assert srv.startup() in (0, 0x100)     # 0x100: resumed, started
    rc = rc_of(srv.tpm_cmd(rh.nv_define(0x01500021, 8)))
    assert rc == 0, hex(rc)
    srv.stop()                      # SIGKILL: the NV index is journaled
    main = first.statedir / "tpm2-00.permall"
    (first.statedir / "tpm2-00.permall.sum").unlink()
    main.write_bytes(main.read_bytes()[:100])
    err = refused_init_stderr(first.dir)
    assert "journal 'tpm2-00.permall.journal' holds newer writes" in err, err
    assert len(main.read_bytes()) == 100
    assert not (first.statedir / "tpm2-00.permall.damaged").exists()


def test_cut_main_with_sidecar_loads_the_newer_journal(swtpm_factory):
    first = swtpm_factory(running=False)
    make_state(first)
    srv = OurSwtpm(first.dir, running=False)
    assert init(srv) == 0
    assert srv.startup() in (0, 0x100)
    rc = rc_of(srv.tpm_cmd(rh.nv_define(0x01500021, 8)))
    assert rc == 0, hex(rc)
    srv.stop()                      # SIGKILL: the NV index is journaled
    main = first.statedir / "tpm2-00.permall"
    main.write_bytes(main.read_bytes()[:100])
    srv = OurSwtpm(first.dir, running=False)
    try:
        assert init(srv) == 0, str(srv)
        assert srv.startup() in (0, 0x100)
        # the index is there: defining it again fails with NV_DEFINED
        rc = rc_of(srv.tpm_cmd(rh.nv_define(0x01500021, 8)))
        assert rc == rh.TPM_RC_NV_DEFINED, hex(rc)
    finally:
        srv.stop()
    assert "loaded its newest generation from the journal" in srv.stderr()


def test_fifo_at_journal_temp_name_does_not_block(swtpm_factory):
    srv = swtpm_factory(running=False)
    assert init(srv) == 0
    assert srv.startup() == 0       # first permall: the main file
    os.mkfifo(srv.statedir / "TMP2-00.permall.journal")
    rc = rc_of(srv.tpm_cmd(rh.nv_define(0x01500022, 8)))
    assert rc == 0, hex(rc)         # the journal is created past it
    assert (srv.statedir / "tpm2-00.permall.journal").is_file()
    assert srv.terminate() == 0, str(srv)


def test_fifo_at_journal_name_names_the_journal(swtpm_factory):
    first = swtpm_factory(running=False)
    make_state(first)
    (first.statedir / "tpm2-00.permall.journal").unlink()
    os.mkfifo(first.statedir / "tpm2-00.permall.journal")
    srv = OurSwtpm(first.dir, running=False)
    try:
        assert init(srv) == 0x101, str(srv)
        assert len(srv.ctrl(CMD_GET_CAPABILITY, resp_len=8)) == 8
        assert srv.terminate() == 0
    finally:
        srv.stop()
    assert "tpm2-00.permall.journal' is not a regular file" in srv.stderr()


def test_tpm_path_with_comma_is_taken_verbatim(tmp_path):
    d = tmp_path / "dir,with,comma"
    d.mkdir()
    env = dict(os.environ, TPM_PATH=str(d))
    p = subprocess.run([tool("swtpm"), "socket", "--tpm2",
                        "--print-states"], env=env, capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert p.stdout == '{ "type": "swtpm", "states": [] }'


def test_wrong_key_is_named(swtpm_factory, tmp_path):
    k1, k2 = tmp_path / "k1", tmp_path / "k2"
    k1.write_text("00112233445566778899aabbccddeeff\n")
    k2.write_text("ffeeddccbbaa99887766554433221100\n")
    first = swtpm_factory(running=False, extra=["--key", "file=%s" % k1])
    make_state(first)
    srv = OurSwtpm(first.dir, running=False,
                   extra=["--key", "file=%s" % k2])
    try:
        assert init(srv) != 0
        assert "wrong --key" in srv.stderr(), str(srv)
        # said once, though libtpms asks for the permall more than once
        assert srv.stderr().count("cannot load TPM state") == 1, str(srv)
        assert srv.terminate() == 0
    finally:
        srv.stop()


def print_states(srv):
    p = subprocess.run([tool("swtpm"), "socket", "--tpm2", "--tpmstate",
                        "dir=%s" % srv.statedir, "--print-states"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    return p.stdout


def test_print_states_reports_a_recovery(swtpm_factory):
    first = swtpm_factory(running=False)
    make_state(first)
    srv = OurSwtpm(first.dir, running=False)
    assert init(srv) == 0   # resumes from the volatile state
    assert srv.terminate() == 0
    main = srv.statedir / "tpm2-00.permall"
    # The exit's TPM2_Shutdown wrote a new generation.
    assert (srv.statedir / "tpm2-00.permall.bak").is_file()
    size = main.stat().st_size
    # Upstream's format, byte for byte, while nothing was recovered.
    assert print_states(srv) == (
        '{ "type": "swtpm", "states": [ {"name": "permall", "size": %d}, '
        '{"name": "volatilestate", "size": %d} ] }'
        % (size, (srv.statedir / "tpm2-00.volatilestate").stat().st_size))
    main.write_bytes(main.read_bytes()[:size // 2])      # torn by hand
    srv = OurSwtpm(first.dir, running=False)
    assert init(srv) == 0, str(srv)
    # The checkpoint's journal slot holds what the main file held.
    msg = "loaded its newest generation from the journal"
    assert msg in srv.stderr()
    # said once per start, though libtpms reads the permall more than once
    assert srv.stderr().count(msg) == 1, srv.stderr()
    assert srv.terminate() == 0         # the checkpoint keeps it aside
    out = print_states(srv)
    assert out.endswith(', "damaged": [ {"name": "permall", "size": %d} ] }'
                        % (size // 2)), out
    doc = json.loads(out)
    assert [s["name"] for s in doc["states"]][0] == "permall"
    assert (srv.statedir / "tpm2-00.permall.damaged").stat().st_size == \
        size // 2
