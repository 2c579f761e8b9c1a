# SPDX-License-Identifier: BSD-3-Clause
"""swtpm_setup where issue 20 saw it differ from Debian's 0.7.1: a local CA
whose directories contain spaces, and --overwrite by an unprivileged user
on state that upstream's tools made.  Each case runs Debian's tool and
ours on the same layout and wants the same outcome."""
import os
import pathlib
import pwd
import shutil
import tempfile

import pytest

from helpers_setup import DEBIAN_SETUP, SETUP, ok, run

NOBODY = pwd.getpwnam("nobody")


def need_debian_setup():
    if not os.access(DEBIAN_SETUP, os.X_OK):
        pytest.skip("%s is not installed" % DEBIAN_SETUP)


@pytest.fixture
def shared():
    """A world-traversable temp dir with a space in its name (pytest's
    is root-only)."""
    d = tempfile.mkdtemp(prefix="setup compat ", dir="/tmp")
    os.chmod(d, 0o755)
    yield pathlib.Path(d)
    shutil.rmtree(d, ignore_errors=True)


@pytest.mark.parametrize("writer", ["ours", "debian"])
def test_local_ca_in_directories_with_spaces(shared, writer):
    # The config files as --create-config-files writes them, under an
    # XDG_CONFIG_HOME with spaces: the CA's statedir, signing key and
    # certserial all have spaces; each run takes two serial numbers (the
    # RSA and the ECC EK certificate).
    need_debian_setup()
    xdg = shared / "x d g"
    xdg.mkdir()
    env = {"XDG_CONFIG_HOME": str(xdg)}
    ok(run([SETUP if writer == "ours" else DEBIAN_SETUP,
            "--create-config-files", "root,skip-if-exist"], env=env))
    conf = (xdg / "swtpm-localca.conf").read_text()
    assert "statedir = %s/var/lib/swtpm-localca\n" % xdg in conf, conf
    # Debian's config names Debian's tool: ours must run the CA itself.
    ca = xdg / "var" / "lib" / "swtpm-localca"
    serials = []
    for i in range(2):
        st = shared / ("state %d" % i)
        st.mkdir()
        res = ok(run([SETUP, "--tpm2", "--createek", "--create-ek-cert",
                      "--tpmstate", st], env=env))
        assert "Successfully created EK certificate" in res.out, str(res)
        serials.append(int((ca / "certserial").read_text()))
    assert serials[1] == serials[0] + 2, serials


def state_by_debian(shared, variant, name):
    """A TPM 2 state made as root by Debian's swtpm_setup, then given the
    owners and modes of the variant; returns its directory."""
    st = shared / ("%s %s" % (variant, name))
    st.mkdir()
    ok(run([DEBIAN_SETUP, "--tpm2", "--tpmstate", st],
           env={"XDG_CONFIG_HOME": str(shared / "xdg")}))
    files = [st / ".lock", st / "tpm2-00.permall"]
    uid, gid = NOBODY.pw_uid, NOBODY.pw_gid
    if variant == "all-nobody":
        for p in [st] + files:
            os.chown(p, uid, -1)
    elif variant == "root-permall":
        os.chown(st, uid, -1)
        os.chown(files[0], uid, -1)
    elif variant == "root-0600-permall":
        os.chown(st, uid, -1)
        os.chown(files[0], uid, -1)
        os.chmod(files[1], 0o600)
    elif variant == "read-only-permall":
        for p in [st] + files:
            os.chown(p, uid, -1)
        os.chmod(files[1], 0o400)
    elif variant == "group":
        for p in [st] + files:
            os.chown(p, -1, gid)
            os.chmod(p, 0o660 if p != st else 0o770)
    elif variant == "root-lock":
        os.chown(st, uid, -1)
        os.chown(files[1], uid, -1)
    elif variant == "read-only-dir":
        for p in [st] + files:
            os.chown(p, uid, -1)
        os.chmod(st, 0o500)
    return st


def as_nobody(shared, exe, st):
    env = {"XDG_CONFIG_HOME": str(shared / "xdg"), "HOME": str(shared)}
    return run(["setpriv", "--reuid=%d" % NOBODY.pw_uid,
                "--regid=%d" % NOBODY.pw_gid, "--clear-groups", exe,
                "--tpm2", "--tpmstate", st, "--overwrite"], env=env)


@pytest.mark.parametrize("variant,works", [
    ("all-nobody", True), ("root-permall", True),
    ("root-0600-permall", True), ("read-only-permall", True),
    ("group", True), ("root-lock", False), ("read-only-dir", False)])
def test_overwrite_unprivileged_like_debian(shared, variant, works):
    # --overwrite run as nobody: it works exactly where Debian's works,
    # and a refusal leaves the old state as it was.
    need_debian_setup()
    (shared / "xdg").mkdir(exist_ok=True)
    (shared / "xdg" / "swtpm_setup.conf").write_text("# no CA\n")
    os.chmod(shared / "xdg", 0o755)
    ours = shared / "swtpm_setup"
    shutil.copy(SETUP, ours)
    os.chmod(ours, 0o755)
    results = {}
    for name, exe in (("debian", DEBIAN_SETUP), ("ours", ours)):
        st = state_by_debian(shared, variant, name)
        before = (st / "tpm2-00.permall").read_bytes()
        res = as_nobody(shared, exe, st)
        results[name] = res
        after = (st / "tpm2-00.permall").read_bytes()
        if res.rc == 0:
            assert after != before, str(res)
        else:
            assert after == before, str(res)
    assert (results["ours"].rc == 0) == (results["debian"].rc == 0) == works, \
        "ours:\n%s\nDebian's:\n%s" % (results["ours"], results["debian"])
    if not works:
        assert results["ours"].rc == 1, str(results["ours"])
        assert "nobody (uid %d) lacks" % NOBODY.pw_uid in \
            results["ours"].err, str(results["ours"])
