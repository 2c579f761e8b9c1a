# SPDX-License-Identifier: BSD-3-Clause
"""swtpm_setup bad input: each refused with a clear message and exit 1
(docs/cli.md §10), leaving no half-written state behind."""
import os
import pathlib
import pwd
import shutil
import tempfile

import pytest

from helpers_setup import (DEBIAN_SETUP, SETUP, fail, ok, run, run_setup,
                           tpm2, tree)
from helpers_socket import SwtpmServer

NOBODY = pwd.getpwnam("nobody")


@pytest.fixture
def work(tmp_path):
    (tmp_path / "state").mkdir()
    (tmp_path / "xdg").mkdir()
    return tmp_path


@pytest.fixture
def shared():
    """A world-traversable temp dir (pytest's is root-only) for --runas."""
    d = tempfile.mkdtemp(prefix="setup-runas-", dir="/tmp")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_existing_state_untouched(work):
    ok(run_setup("--tpm2", "--create-ek-cert", "--tpmstate", work / "state",
                 xdg=work / "xdg"))
    before = tree(work / "state")
    fail(run_setup("--tpm2", "--createek", "--tpmstate", work / "state",
                   xdg=work / "xdg"), "Found existing TPM state 'permall'")
    assert tree(work / "state") == before


def test_overwrite_and_not_overwrite_conflict(work):
    fail(run_setup("--tpm2", "--overwrite", "--not-overwrite", "--tpmstate",
                   work / "state", xdg=work / "xdg"), "cannot be used")


def test_unreadable_key_file(work):
    res = fail(run_setup("--tpm2", "--createek", "--tpmstate",
                         work / "state", "--keyfile", work / "nokey",
                         xdg=work / "xdg"))
    assert str(work / "nokey") in res.err
    assert os.listdir(work / "state") == []


def test_bad_key_content(work):
    (work / "key").write_text("not hex\n")
    res = fail(run_setup("--tpm2", "--tpmstate", work / "state",
                         "--keyfile", work / "key", xdg=work / "xdg"))
    assert "key" in res.err
    assert os.listdir(work / "state") == []


def test_bad_cipher(work):
    fail(run_setup("--tpm2", "--tpmstate", work / "state", "--cipher",
                   "des", xdg=work / "xdg"), "unsupported cipher 'des'")


@pytest.mark.parametrize("banks", ["md5", "sha256,foo", "", "sha256,"])
def test_bad_pcr_banks(work, banks):
    res = fail(run_setup("--tpm2", "--tpmstate", work / "state",
                         "--pcr-banks", banks, xdg=work / "xdg"),
               "unsupported PCR bank")
    assert "sha3-512" in res.err
    assert os.listdir(work / "state") == []


@pytest.mark.parametrize("opt", [
    ["--take-ownership"], ["--ownerpass", "x"], ["--owner-well-known"],
    ["--srkpass", "x"], ["--srk-well-known"]])
def test_tpm12_options_with_tpm2(work, opt):
    fail(run_setup("--tpm2", "--tpmstate", work / "state", *opt,
                   xdg=work / "xdg"), "TPM 1.2 option")


@pytest.mark.parametrize("opt", [
    ["--ecc"], ["--create-spk"], ["--reconfigure"], ["--allow-signing"],
    ["--decryption"], ["--pcr-banks", "sha256"], ["--rsa-keysize", "2048"]])
def test_tpm2_options_without_tpm2(work, opt):
    fail(run_setup("--tpmstate", work / "state", *opt, xdg=work / "xdg"),
         "needs --tpm2")


@pytest.mark.parametrize("opt", [
    ["--ek1keyalgo", "rsa2048"], ["--profile", "{}"],
    ["--profile-name", "default-v1"], ["--print-profiles"],
    ["--iakkeyalgo=secp384r1"]])
def test_newer_options_not_supported(work, opt):
    fail(run_setup("--tpm2", "--tpmstate", work / "state", *opt,
                   xdg=work / "xdg"), "not supported with libtpms 0.9")


def test_rsa_keysize_4096(work):
    fail(run_setup("--tpm2", "--tpmstate", work / "state", "--rsa-keysize",
                   "4096", xdg=work / "xdg"), "4096")


def test_reconfigure_with_ek_options(work):
    fail(run_setup("--tpm2", "--tpmstate", work / "state", "--reconfigure",
                   "--createek", xdg=work / "xdg"), "--reconfigure")


def test_reconfigure_without_state(work):
    fail(run_setup("--tpm2", "--tpmstate", work / "state", "--reconfigure",
                   xdg=work / "xdg"), "no TPM 2 state")


def test_missing_state_dir(work):
    res = fail(run_setup("--tpm2", "--tpmstate", work / "nodir",
                         xdg=work / "xdg"), "does not exist")
    assert str(work / "nodir") in res.err
    fail(run_setup("--tpm2", xdg=work / "xdg"), "missing --tpm-state")


def test_file_backend_bad_targets(work):
    """file:// in a missing directory, on a directory, on a file with a
    bad header: an error naming it, nothing created or changed."""
    res = fail(run_setup("--tpm2", "--tpmstate",
                         "file://%s" % (work / "nodir" / "f"),
                         xdg=work / "xdg"), "cannot open state file")
    assert str(work / "nodir" / "f") in res.err
    fail(run_setup("--tpm2", "--tpmstate", "file://%s" % work,
                   xdg=work / "xdg"), "use dir://")
    bad = work / "bad.state"
    bad.write_bytes(b"not a TPM state file")
    fail(run_setup("--tpm2", "--tpmstate", "file://%s" % bad,
                   xdg=work / "xdg"), "has a bad header")
    assert bad.read_bytes() == b"not a TPM state file"


def test_unknown_option_and_help_version(work):
    fail(run_setup("--bogus", xdg=work / "xdg"))
    res = ok(run_setup("--help", xdg=work / "xdg"))
    assert "Usage:" in res.out and "Exit status" in res.out
    res = ok(run_setup("--version", xdg=work / "xdg"))
    assert res.out.startswith("TPM emulator setup tool version ")


def test_print_capabilities(work):
    res = ok(run_setup("--print-capabilities", xdg=work / "xdg"))
    import json
    caps = json.loads(res.out)
    assert caps["type"] == "swtpm_setup"
    for verb in ("tpm-1.2", "tpm-2.0", "cmdarg-keyfile-fd",
                 "cmdarg-pwdfile-fd", "cmdarg-write-ek-cert-files",
                 "cmdarg-create-config-files",
                 "cmdarg-reconfigure-pcr-banks", "tpm2-rsa-keysize-2048",
                 "tpm2-rsa-keysize-3072"):
        assert verb in caps["features"]
    assert "tpm2-rsa-keysize-4096" not in caps["features"]
    assert not any("profile" in f or "keyalgo" in f
                   for f in caps["features"])


def test_display_and_deprecated_accepted(work):
    res = ok(run_setup("--tpm2", "--tpmstate", work / "state", "--display",
                       "--tcsd-system-ps-file", "x", xdg=work / "xdg"))
    assert "deprecated" in res.err


def test_unwritable_state_dir_runas(work, shared):
    st = os.path.join(shared, "state")
    os.mkdir(st, 0o755)             # owned by root: nobody cannot write
    res = fail(run_setup("--tpm2", "--createek", "--tpmstate", st,
                         "--runas", "nobody", xdg=shared))
    assert st in res.err and "uid %d" % NOBODY.pw_uid in res.err
    assert "write permission" in res.err
    assert os.listdir(st) == []


def test_unwritable_lock_file_runas(work, shared):
    st = os.path.join(shared, "state")
    os.mkdir(st)
    os.chmod(st, 0o777)
    open(os.path.join(st, ".lock"), "w").close()     # root's, 0644
    os.chmod(os.path.join(st, ".lock"), 0o644)
    res = fail(run_setup("--tpm2", "--tpmstate", st, "--runas", "nobody",
                         xdg=shared))
    assert ".lock" in res.err and "write permission" in res.err


def test_unwritable_ca_dir_runas(work, shared):
    st = os.path.join(shared, "state")
    os.mkdir(st)
    os.chown(st, NOBODY.pw_uid, NOBODY.pw_gid)
    xdg = os.path.join(shared, "xdg")
    os.mkdir(xdg, 0o755)            # root's: the CA cannot be created
    res = fail(run_setup("--tpm2", "--create-ek-cert", "--tpmstate", st,
                         "--runas", "nobody", xdg=xdg),
               "Authoring the TPM state failed")
    assert xdg in res.err and "uid %d" % NOBODY.pw_uid in res.err
    assert os.listdir(st) in ([], [".lock"]), os.listdir(st)
    assert os.listdir(xdg) == ["swtpm_setup.conf"]     # the helper's


def test_runas_success_per_user_ca(work, shared):
    st = os.path.join(shared, "state")
    os.mkdir(st)
    os.chown(st, NOBODY.pw_uid, NOBODY.pw_gid)
    xdg = os.path.join(shared, "xdg")
    os.mkdir(xdg)
    os.chown(xdg, NOBODY.pw_uid, NOBODY.pw_gid)
    res = ok(run_setup("--tpm2", "--create-ek-cert", "--tpmstate", st,
                       "--runas", "nobody", xdg=xdg))
    assert "as nobody:" in res.out
    for name in ("tpm2-00.permall", ".lock"):
        assert os.stat(os.path.join(st, name)).st_uid == NOBODY.pw_uid
    ca = os.path.join(xdg, "swtpm-localca")
    assert os.stat(ca).st_uid == NOBODY.pw_uid
    assert os.stat(os.path.join(ca, "signkey.pem")).st_mode & 0o077 == 0o040


def test_setpriv_unwritable_state(work, shared):
    """Started as nobody (not via --runas): the same clear refusal. The
    binary is copied next to the state so nobody can run it wherever the
    checkout lives (a 0700 home directory, a CI workspace)."""
    st = os.path.join(shared, "state")
    os.mkdir(st, 0o755)
    from helpers_setup import SETUP, run
    exe = os.path.join(shared, "swtpm_setup")
    shutil.copy(SETUP, exe)
    os.chmod(exe, 0o755)
    res = run(["setpriv", "--reuid=%d" % NOBODY.pw_uid,
               "--regid=%d" % NOBODY.pw_gid, "--clear-groups", exe,
               "--tpm2", "--tpmstate", st],
              env={"XDG_CONFIG_HOME": shared, "HOME": shared})
    fail(res, "write permission")
    assert st in res.err and "uid %d" % NOBODY.pw_uid in res.err
    assert os.listdir(st) == []


def test_unwritable_ek_cert_dir(work):
    os.mkdir(work / "ro")
    os.chmod(work / "ro", 0o555)
    res = run_setup("--tpm2", "--create-ek-cert", "--tpmstate",
                    work / "state", "--write-ek-cert-files", work / "ro",
                    "--runas", "0", xdg=work / "xdg")
    # root bypasses permissions; only check a missing directory
    assert res.rc == 0, str(res)
    fail(run_setup("--tpm2", "--create-ek-cert", "--tpmstate",
                   work / "state", "--overwrite", "--write-ek-cert-files",
                   work / "nodir", xdg=work / "xdg"), "EK certificate dir")


def test_in_use_state_dir(work):
    import fcntl
    ok(run_setup("--tpm2", "--tpmstate", work / "state", xdg=work / "xdg"))
    before = (work / "state" / "tpm2-00.permall").read_bytes()
    fd = os.open(work / "state" / ".lock", os.O_RDWR)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX)
        fail(run_setup("--tpm2", "--tpmstate", work / "state",
                       "--overwrite", xdg=work / "xdg"), "in use")
    finally:
        os.close(fd)
    assert (work / "state" / "tpm2-00.permall").read_bytes() == before


def test_failed_overwrite_keeps_old_state(work):
    ok(run_setup("--tpm2", "--tpmstate", work / "state", xdg=work / "xdg"))
    before = (work / "state" / "tpm2-00.permall").read_bytes()
    (work / "setup.conf").write_text("create_certs_tool = /bin/false\n")
    fail(run_setup("--tpm2", "--create-ek-cert", "--overwrite",
                   "--tpmstate", work / "state", "--config",
                   work / "setup.conf", xdg=work / "xdg"))
    assert (work / "state" / "tpm2-00.permall").read_bytes() == before
    assert sorted(os.listdir(work / "state")) == [
        ".lock", "tpm2-00.permall", "tpm2-00.permall.sum"]


def test_certificate_tool_that_never_exits_is_stopped(work):
    """A create_certs_tool that hangs (and a child of it holding its
    output open) is killed after SWTPM_SETUP_TOOL_TIMEOUT seconds: the
    run fails naming the tool, nothing of it is left running, and the old
    state is as it was.  Upstream waits for ever."""
    ok(run_setup("--tpm2", "--tpmstate", work / "state", xdg=work / "xdg"))
    before = (work / "state" / "tpm2-00.permall").read_bytes()
    tool = work / "hang-tool"
    # durations of this run only, so other runs' sleeps are not counted
    secs = 3000000 + os.getpid() % 100000 * 2
    tool.write_text("#!/bin/sh\necho waiting\nsleep %d &\nexec sleep %d\n"
                    % (secs, secs + 1))
    tool.chmod(0o755)
    (work / "setup.conf").write_text("create_certs_tool = %s\n" % tool)
    res = fail(run_setup("--tpm2", "--create-ek-cert", "--overwrite",
                         "--tpmstate", work / "state", "--config",
                         work / "setup.conf", xdg=work / "xdg",
                         env={"SWTPM_SETUP_TOOL_TIMEOUT": "2"}, timeout=60),
               "certificate tool '%s' did not finish within 2 s" % tool)
    assert "hang-tool: waiting" in res.out + res.err
    assert (work / "state" / "tpm2-00.permall").read_bytes() == before
    left = run(["pgrep", "-f", "sleep (%d|%d)$" % (secs, secs + 1)],
               check_stderr=False)
    assert left.out == "", left.out


def test_fifo_config_is_refused_not_waited_for(work):
    """A FIFO as --config, or as the user's swtpm_setup.conf, would hold
    the run in open(): refused at once, naming it."""
    fifo = work / "fifo.conf"
    os.mkfifo(fifo)
    fail(run_setup("--tpm2", "--tpmstate", work / "state", "--config", fifo,
                   xdg=work / "xdg", timeout=20),
         "cannot read config file '%s': a FIFO or socket" % fifo)
    os.mkfifo(work / "xdg" / "swtpm_setup.conf")
    fail(run_setup("--tpm2", "--tpmstate", work / "state", xdg=work / "xdg",
                   timeout=20), "swtpm_setup.conf': a FIFO or socket")
    assert os.listdir(work / "state") in ([], [".lock"])


def test_stale_temp_dir_of_killed_run_removed(work):
    stale = work / "state" / ".swtpm_setup.AbC123"
    stale.mkdir()
    (stale / "tpm2-00.permall").write_bytes(b"half")
    ok(run_setup("--tpm2", "--tpmstate", work / "state", xdg=work / "xdg"))
    assert sorted(os.listdir(work / "state")) == [".lock", "tpm2-00.permall",
        "tpm2-00.permall.sum"]


def setup_both(state, *args):
    """Our and Debian's swtpm_setup, each on its own copy of state."""
    conf = os.path.join(os.path.dirname(state), "empty.conf")
    with open(conf, "w") as f:
        f.write("# no certificates\n")
    res = []
    for tool, d in ((SETUP, state), (DEBIAN_SETUP, state + "-deb")):
        os.makedirs(d, exist_ok=True)
        os.chown(d, NOBODY.pw_uid, NOBODY.pw_gid)
        res.append(run([tool, "--tpm2", "--tpmstate", d, "--config", conf]
                       + list(args), env={"PATH": "/usr/bin:/bin"}))
    return res


def test_runas_overwrite_of_runas_state_like_upstream(shared):
    """Issue 11 item 3: root makes the state for nobody (--runas nobody),
    then --runas nobody --overwrite and swtpm socket --runas nobody work,
    as with Debian's swtpm_setup."""
    st = os.path.join(shared, "state")
    for r in setup_both(st, "--runas", "nobody"):
        ok(r)
    for r in setup_both(st, "--runas", "nobody", "--overwrite",
                        "--createek"):
        ok(r)
    for d in (st, st + "-deb"):
        for name in (".lock", "tpm2-00.permall"):
            assert os.stat(os.path.join(d, name)).st_uid == NOBODY.pw_uid
    srv = SwtpmServer(pathlib.Path(shared), True, running=False,
                      extra=["--flags", "not-need-init,startup-clear",
                             "--runas", "nobody"])
    try:
        tpm2(srv, "tpm2_readpublic", "-c", "0x81010001")
    finally:
        srv.stop()


def test_runas_overwrite_of_root_state_fails_like_upstream(shared):
    """State made by root without --runas: its .lock is root's 0640, so
    nobody cannot take it; Debian's swtpm_setup refuses too (exit 1) and
    both leave the state as it was."""
    st = os.path.join(shared, "state")
    for r in setup_both(st):
        ok(r)
    before = [tree(d) for d in (st, st + "-deb")]
    ours, deb = setup_both(st, "--runas", "nobody", "--overwrite")
    assert ours.rc == deb.rc == 1, str(ours) + str(deb)
    assert ".lock" in ours.err + ours.out and "nobody" in ours.err + ours.out
    assert [tree(d) for d in (st, st + "-deb")] == before
