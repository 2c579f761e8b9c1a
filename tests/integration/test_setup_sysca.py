# SPDX-License-Identifier: BSD-3-Clause
"""swtpm_setup and the configured CA (issue 11/12): a create_certs_tool
named swtpm_localca runs our built-in CA, but on exactly the statedir,
signingkey, issuercert and certserial of the configured swtpm-localca.conf,
the system one included; libvirt's call as user tss with HOME=/root works.
The tests that touch /var/lib/swtpm-localca restore it afterwards."""
import os
import pathlib
import pwd
import shutil
import tempfile

import pytest

from helpers_setup import (DEBIAN_LOCALCA, DEBIAN_SETUP, SETUP, ok, run,
                           verify)

SYS_CA = pathlib.Path("/var/lib/swtpm-localca")
SYS_FILES = ("/etc/swtpm_setup.conf", "/etc/swtpm-localca.conf")


def snapshot(d):
    return {p.name: (p.read_bytes(), p.stat().st_mode, p.stat().st_uid)
            for p in d.iterdir()} if d.is_dir() else None


@pytest.fixture
def system_ca():
    """The host's system CA dir, put back as it was after the test."""
    for f in SYS_FILES:
        if not os.access(f, os.R_OK):
            pytest.skip("%s is not installed" % f)
    if not SYS_CA.is_dir():
        pytest.skip("%s does not exist" % SYS_CA)
    etc = {f: pathlib.Path(f).read_bytes() for f in SYS_FILES}
    st = SYS_CA.stat()
    saved = snapshot(SYS_CA)
    # Start as Debian's package leaves it: empty, owned by tss.
    for p in SYS_CA.iterdir():
        p.unlink()
    tss = pwd.getpwnam("tss")
    os.chown(SYS_CA, tss.pw_uid, 0)
    os.chmod(SYS_CA, 0o750)
    yield SYS_CA
    for p in SYS_CA.iterdir():
        p.unlink()
    for name, (data, mode, uid) in saved.items():
        (SYS_CA / name).write_bytes(data)
        os.chmod(SYS_CA / name, mode & 0o7777)
        os.chown(SYS_CA / name, uid, -1)
    os.chown(SYS_CA, st.st_uid, st.st_gid)
    os.chmod(SYS_CA, st.st_mode & 0o7777)
    assert snapshot(SYS_CA) == saved
    assert {f: pathlib.Path(f).read_bytes() for f in SYS_FILES} == etc


@pytest.fixture
def shared():
    """A world-traversable temp dir (pytest's is root-only)."""
    d = tempfile.mkdtemp(prefix="setup-sysca-", dir="/tmp")
    os.chmod(d, 0o755)
    yield pathlib.Path(d)
    shutil.rmtree(d, ignore_errors=True)


def bundle_of(work, issuercert, root):
    b = work / "bundle.pem"
    b.write_text(pathlib.Path(issuercert).read_text() +
                 pathlib.Path(root).read_text())
    return b


def libvirt_call_as_tss(shared, system_ca):
    """libvirt 9.0's exact call, as tss with HOME=/root: /root/.config is
    not readable, so /etc/swtpm_setup.conf and the system CA are used."""
    tss = pwd.getpwnam("tss")
    for d in ("state", "certs"):
        (shared / d).mkdir()
        os.chown(shared / d, tss.pw_uid, tss.pw_gid)
    log = shared / "state" / "setup.log"
    res = run(["setpriv", "--reuid", "tss", "--regid", "tss",
               "--clear-groups", "env", "-i", "PATH=/usr/bin:/bin",
               "HOME=/root", SETUP, "--tpm2", "--tpm-state",
               shared / "state", "--vmid",
               "vm1:0d4ffd94-1f4d-4b4b-a2e2-1a5b8b4b4b4b", "--logfile", log,
               "--createek", "--create-ek-cert", "--create-platform-cert",
               "--lock-nvram", "--not-overwrite", "--write-ek-cert-files",
               shared / "certs"])
    assert res.rc == 0, str(res) + log.read_text()
    text = log.read_text()
    assert "Permission denied" not in text
    assert "Successfully authored TPM state." in text
    for name in ("signkey.pem", "issuercert.pem", "certserial",
                 "swtpm-localca-rootca-cert.pem",
                 "swtpm-localca-rootca-privkey.pem"):
        assert (system_ca / name).stat().st_uid == tss.pw_uid, name
    b = bundle_of(shared, system_ca / "issuercert.pem",
                  system_ca / "swtpm-localca-rootca-cert.pem")
    ok(verify(b, shared / "certs" / "ek-rsa2048.crt"))


def test_libvirt_call_as_tss_with_home_root(shared, system_ca):
    libvirt_call_as_tss(shared, system_ca)


def test_system_ca_made_by_root_stays_usable_by_tss(tmp_path, shared,
                                                    system_ca):
    """An admin's swtpm_setup as root creates the system CA first: its
    files go to the directory's owner (tss), so libvirt's next call as tss
    can still allocate serial numbers (upstream leaves them root's)."""
    st = tmp_path / "st"
    st.mkdir()
    ok(run([SETUP, "--tpm2", "--createek", "--create-ek-cert", "--tpmstate",
            st], env={"XDG_CONFIG_HOME": str(tmp_path / "nothing")}))
    tss = pwd.getpwnam("tss")
    names = sorted(p.name for p in system_ca.iterdir())
    assert "certserial" in names and "signkey.pem" in names, names
    for name in names:
        assert (system_ca / name).stat().st_uid == tss.pw_uid, name
    libvirt_call_as_tss(shared, system_ca)


def ca_conf(work, ca, serial=None):
    conf = work / "localca.conf"
    conf.write_text("statedir = %s\nsigningkey = %s/signkey.pem\n"
                    "issuercert = %s/issuercert.pem\ncertserial = %s\n"
                    % (ca, ca, ca, serial or "%s/certserial" % ca))
    setup = work / "setup.conf"
    setup.write_text("create_certs_tool = /usr/bin/swtpm_localca\n"
                     "create_certs_tool_config = %s\n"
                     "create_certs_tool_options = /etc/swtpm-localca.options\n"
                     % conf)
    return setup


def our_setup(work, setup_conf, name):
    st = work / name
    st.mkdir()
    return ok(run([SETUP, "--tpm2", "--createek", "--create-ek-cert",
                   "--tpmstate", st, "--config", setup_conf,
                   "--write-ek-cert-files", st],
                  env={"XDG_CONFIG_HOME": str(work / "xdg")}))


def test_configured_ca_with_space_in_path(tmp_path):
    ca = tmp_path / "my ca dir" / "ca"
    setup = ca_conf(tmp_path, ca)
    for i in range(2):
        our_setup(tmp_path, setup, "s%d" % i)
    names = sorted(os.listdir(ca))
    assert names == [".lock.swtpm-localca", "certserial", "issuercert.pem",
                     "signkey.pem", "swtpm-localca-rootca-cert.pem",
                     "swtpm-localca-rootca-privkey.pem"], names
    assert not (tmp_path / "xdg" / "swtpm-localca").exists()
    b = bundle_of(tmp_path, ca / "issuercert.pem",
                  ca / "swtpm-localca-rootca-cert.pem")
    serials = set()
    for i in range(2):
        crt = tmp_path / ("s%d" % i) / "ek-rsa2048.crt"
        ok(verify(b, crt))
        out = ok(run(["openssl", "x509", "-inform", "der", "-in", crt,
                      "-noout", "-serial"])).out
        serials.add(out)
    assert len(serials) == 2


def test_ca_made_by_debian_localca_is_used(tmp_path):
    """A CA that Debian's swtpm_localca created (driven by Debian's
    swtpm_setup) signs our certificates; its serial counter goes on."""
    if not os.access(DEBIAN_LOCALCA, os.X_OK):
        pytest.skip("Debian's swtpm_localca is not installed")
    ca = tmp_path / "ca"
    setup = ca_conf(tmp_path, ca)
    (tmp_path / "deb").mkdir()
    ok(run([DEBIAN_SETUP, "--tpm2", "--createek", "--create-ek-cert",
            "--tpmstate", tmp_path / "deb", "--config", setup],
           env={"PATH": "/usr/bin:/bin",
                "XDG_CONFIG_HOME": str(tmp_path / "xdg")}))
    key = (ca / "signkey.pem").read_bytes()
    before = int((ca / "certserial").read_text())
    our_setup(tmp_path, setup, "ours")
    assert (ca / "signkey.pem").read_bytes() == key
    assert int((ca / "certserial").read_text()) > before
    b = bundle_of(tmp_path, ca / "issuercert.pem",
                  ca / "swtpm-localca-rootca-cert.pem")
    ok(verify(b, tmp_path / "ours" / "ek-rsa2048.crt"))
    assert not (tmp_path / "xdg" / "swtpm-localca").exists()


def test_system_conf_without_user_conf_uses_system_ca(tmp_path, system_ca):
    """As root with an empty XDG dir: /etc/swtpm_setup.conf, then the CA
    of /etc/swtpm-localca.conf (upstream's order), not a per-user one."""
    (tmp_path / "xdg").mkdir()
    (tmp_path / "st").mkdir()
    ok(run([SETUP, "--tpm2", "--create-ek-cert", "--tpmstate",
            tmp_path / "st", "--write-ek-cert-files", tmp_path / "st"],
           env={"XDG_CONFIG_HOME": str(tmp_path / "xdg")}))
    assert not (tmp_path / "xdg" / "swtpm-localca").exists()
    b = bundle_of(tmp_path, system_ca / "issuercert.pem",
                  system_ca / "swtpm-localca-rootca-cert.pem")
    ok(verify(b, tmp_path / "st" / "ek-rsa2048.crt"))
