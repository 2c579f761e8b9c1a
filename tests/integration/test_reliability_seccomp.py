# SPDX-License-Identifier: BSD-3-Clause
"""Seccomp proof (docs/robustness.md): with --seccomp action=kill, one
daemon serves a whole tpm2-tools session and every control command of
swtpm_ioctl, including state blobs, STOP/INIT, hashing and storage
locking, then shuts down cleanly: no `seccomp:` line in its log and alive
until asked to exit.  Once as root, once confined with -r 65534 and
-R (chroot).  The option tests themselves are in test_cuse_options.py
(test_seccomp_none_and_log, test_runas_drops_privileges,
test_chroot_confines_the_daemon); test_cuse_tpm2.py::
test_tpm2_tools_full_flow runs under the default action (kill) too.
"""
import os
import subprocess

import pytest

from conftest import tool
from helpers_cuse import CuseTPM, _wait_gone, tpm2, tpm2_ok

pytestmark = pytest.mark.cuse

NV = "0x1500300"


def proc_status(pid):
    with open("/proc/%d/status" % pid) as f:
        return dict(line.split(":", 1) for line in f.read().splitlines())


def ioctl_ok(t, *args, stdin=None, stays=True):
    cmd = [tool("swtpm_ioctl")] + list(args) + [t.dev]
    p = subprocess.run(cmd, capture_output=True, input=stdin, timeout=60)
    assert p.returncode == 0, "%s: %s\nlog: %s" % (
        cmd, p.stderr.decode(errors="replace"), t.read_log())
    assert t.alive() or not stays, "daemon died after %s\nlog: %s" % (cmd, t.read_log())
    return p.stdout.decode()


def tools_session(t, tmp_path):
    dev = t.dev
    tpm2_ok(["tpm2_startup", "-c"], dev)
    tpm2_ok(["tpm2_getcap", "properties-fixed"], dev)
    tpm2_ok(["tpm2_getrandom", "--hex", "32"], dev)
    tpm2_ok(["tpm2_pcrextend", "16:sha256=" + "cd" * 32], dev)
    tpm2_ok(["tpm2_pcrread", "sha256:0,16"], dev)
    ctx = str(tmp_path / "p.ctx")
    tpm2_ok(["tpm2_createprimary", "-C", "o", "-G", "ecc", "-c", ctx], dev)
    tpm2_ok(["tpm2_flushcontext", "-t"], dev)
    data = tmp_path / "nv.bin"
    data.write_bytes(b"seccomp-kill-proof-0123456789ab")
    tpm2_ok(["tpm2_nvdefine", NV, "-C", "o", "-s", "31", "-a",
             "ownerread|ownerwrite"], dev)
    tpm2_ok(["tpm2_nvwrite", NV, "-C", "o", "-i", str(data)], dev)
    assert tpm2_ok(["tpm2_nvread", NV, "-C", "o", "-s", "31"], dev) == \
        data.read_bytes()
    return data.read_bytes()


def control_session(t, tmp_path):
    ioctl_ok(t, "-c")
    ioctl_ok(t, "-g")
    ioctl_ok(t, "-e")
    ioctl_ok(t, "-b", "0")
    ioctl_ok(t, "--info", "7")
    ioctl_ok(t, "-l", "0")
    ioctl_ok(t, "-h", "-", stdin=b"measured boot loader" * 300)
    ioctl_ok(t, "-v")
    perm, vol = str(tmp_path / "perm.blob"), str(tmp_path / "vol.blob")
    ioctl_ok(t, "--save", "permanent", perm)
    ioctl_ok(t, "--save", "volatile", vol)
    ioctl_ok(t, "-C")
    ioctl_ok(t, "--stop")
    ioctl_ok(t, "--load", "permanent", perm)
    ioctl_ok(t, "--load", "volatile", vol)
    ioctl_ok(t, "-i")
    ioctl_ok(t, "--lock-storage", "0")


@pytest.mark.parametrize("confined", [False, True],
                         ids=["root", "runas-chroot"])
def test_seccomp_kill_full_session(tmp_path, confined):
    extra = ["--seccomp", "action=kill"]
    state = tmp_path / "state"
    state.mkdir()
    if confined:
        os.chmod(tmp_path, 0o777)
        os.chown(state, 65534, 65534)
        jail = tmp_path / "jail"
        jail.mkdir()
        # By number: the name is looked up inside the jail (as upstream).
        extra += ["-r", "65534", "-R", str(jail)]
    t = CuseTPM(tmp_path, state=state, extra=extra)
    t.start()
    try:
        st = proc_status(t.pid)
        assert st["Seccomp"].strip() == "2"
        assert st["NoNewPrivs"].strip() == "1"
        if confined:
            assert st["Uid"].split() == ["65534"] * 4
            assert os.readlink("/proc/%d/root" % t.pid) == str(jail)
        ioctl_ok(t, "-i")
        secret = tools_session(t, tmp_path)
        control_session(t, tmp_path)
        # The state went through save, stop, load and init intact; the
        # volatile blob resumes a started TPM, so Startup may be refused.
        tpm2(["tpm2_startup", "-c"], t.dev)
        assert tpm2_ok(["tpm2_nvread", NV, "-C", "o", "-s", "31"],
                       t.dev) == secret
        tpm2_ok(["tpm2_shutdown", "-c"], t.dev)
        ioctl_ok(t, "-s", stays=False)
        assert _wait_gone(t.pid), "daemon did not exit on -s"
    finally:
        t.kill()
    log = t.read_log()
    assert "seccomp:" not in log, log
    t.check_log_clean()
