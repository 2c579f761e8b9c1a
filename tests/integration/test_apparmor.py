# SPDX-License-Identifier: BSD-3-Clause
"""The AppArmor profiles of data/apparmor-swtpm.in in enforce mode, with
the checkout's build/bin substituted, as `make install` does with the
installed paths: swtpm_cuse, swtpm socket, swtpm chardev (vTPM proxy)
and swtpm_setup run confined and do their job, and the kernel logs no
denial.  Runs only in the tests/vm guest booted with --apparmor (`make
vm-check` does that); the profiles are loaded into the guest kernel."""
import os
import re
import shutil
import signal
import subprocess
import time

import pytest

from conftest import BIN, ROOT
from helpers_cuse import CuseTPM
from helpers_socket import run_tool

pytestmark = [
    pytest.mark.apparmor,
    pytest.mark.skipif(os.environ.get("SWTPM_VM_APPARMOR") != "1",
                       reason="needs the tests/vm guest with --apparmor"),
]

TPM2_STARTUP = bytes.fromhex("80010000000c000001440000")


def kernel_log():
    return subprocess.run(["dmesg"], capture_output=True, text=True,
                          check=True).stdout


@pytest.fixture(scope="module")
def profiles(tmp_path_factory):
    assert os.path.isdir("/sys/kernel/security/apparmor"), \
        "AppArmor is not enabled in the guest"
    out = tmp_path_factory.mktemp("aa") / "swtpm.aa"
    tpl = (ROOT / "data/apparmor-swtpm.in").read_text()
    for k, v in (("BINDIR", str(BIN)), ("SYSCONFDIR", "/etc"),
                 ("LOCALSTATEDIR", "/var"), ("DATADIR", "/usr/share")):
        tpl = tpl.replace("@%s@" % k, v)
    out.write_text(tpl)
    p = subprocess.run(["apparmor_parser", "-r", "-W", str(out)],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    loaded = open("/sys/kernel/security/apparmor/profiles").read()
    for name in ("swtpm", "swtpm_cuse", "swtpm_setup"):
        assert "%s (enforce)" % name in loaded, loaded
    yield
    subprocess.run(["apparmor_parser", "-R", str(out)])


@pytest.fixture
def no_denials(profiles):
    before = len(kernel_log().splitlines())
    yield
    new = kernel_log().splitlines()[before:]
    denied = [ln for ln in new if 'apparmor="DENIED"' in ln]
    assert denied == [], "\n".join(denied)


def label_of(pid):
    with open("/proc/%d/attr/current" % pid) as f:
        return f.read().strip()


def test_cuse_confined(tmp_path, no_denials):
    t = CuseTPM(tmp_path, tpm2=True)
    t.start()
    try:
        assert label_of(t.pid) == "swtpm_cuse (enforce)"
        with t.open() as d:
            d.init()
            resp = d.cmd(TPM2_STARTUP)
            assert resp[6:10] == b"\0\0\0\0"
    finally:
        t.stop()


def test_socket_confined(tmp_path, no_denials):
    st = tmp_path / "st"
    st.mkdir()
    ctrl = tmp_path / "ctrl.sock"
    proc = subprocess.Popen(
        [str(BIN / "swtpm"), "socket", "--tpm2", "--tpmstate",
         "dir=%s" % st, "--ctrl", "type=unixio,path=%s" % ctrl,
         "--server", "type=unixio,path=%s" % (tmp_path / "data.sock"),
         "--pid", "file=%s" % (tmp_path / "pid"), "--log",
         "file=%s,level=2" % (tmp_path / "log"),
         "--pcap", "file=%s" % (tmp_path / "x.pcap")])
    try:
        for _ in range(200):
            if (tmp_path / "pid").exists():
                break
            assert proc.poll() is None
            time.sleep(0.05)
        assert label_of(proc.pid) == "swtpm (enforce)"
        assert run_tool("swtpm_ioctl", "--unix", ctrl, "-i").rc == 0
        res = run_tool("swtpm_bios", "--unix", tmp_path / "data.sock",
                       "--tpm2")
        assert res.rc == 0, str(res)
        assert run_tool("swtpm_ioctl", "--unix", ctrl, "-s").rc == 0
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert (tmp_path / "x.pcap").stat().st_size > 0


@pytest.mark.skipif(not os.path.exists("/dev/vtpmx"),
                    reason="no /dev/vtpmx")
def test_chardev_vtpm_proxy_confined(tmp_path, no_denials):
    st = tmp_path / "st"
    st.mkdir()
    proc = subprocess.Popen(
        [str(BIN / "swtpm"), "chardev", "--vtpm-proxy", "--tpm2",
         "--tpmstate", "dir=%s" % st], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE)
    try:
        line = proc.stdout.readline().decode()
        m = re.match(r"New TPM device: (/dev/tpm\d+)", line)
        assert m, line + proc.stderr.read().decode()
        assert label_of(proc.pid) == "swtpm (enforce)"
        dev = m.group(1)
        for _ in range(200):
            if os.path.exists(dev):
                break
            time.sleep(0.05)
        if shutil.which("tpm2_getrandom"):
            for _ in range(20):
                p = subprocess.run(["tpm2_getrandom", "-T", "device:" + dev,
                                    "--hex", "8"], capture_output=True)
                if p.returncode == 0:
                    break
                time.sleep(0.2)
            assert p.returncode == 0, p.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0


def test_setup_confined(tmp_path, no_denials):
    st = tmp_path / "st"
    st.mkdir()
    conf = tmp_path / "setup.conf"
    conf.write_text("active_pcr_banks = sha256\n")
    res = run_tool("swtpm_setup", "--tpm2", "--tpmstate", st, "--createek",
                   "--lock-nvram", "--config", conf, "--logfile",
                   tmp_path / "setup.log")
    assert res.rc == 0, str(res) + (tmp_path / "setup.log").read_text()
    assert any(st.iterdir())


def setup_with_certs(tmp_path, setup_conf, env=None):
    st = tmp_path / "st"
    st.mkdir()
    res = run_tool("swtpm_setup", "--tpm2", "--tpmstate", st, "--createek",
                   "--create-ek-cert", "--create-platform-cert",
                   "--lock-nvram", "--config", setup_conf,
                   "--write-ek-cert-files", st,
                   "--logfile", tmp_path / "setup.log", env=env)
    assert res.rc == 0, str(res) + (tmp_path / "setup.log").read_text()
    return st


def test_setup_confined_with_our_localca_on_system_statedir(tmp_path,
                                                            no_denials):
    # /etc/swtpm_setup.conf's arrangement, with our swtpm_localca as the
    # create_certs_tool and the CA in /var/lib/swtpm-localca (a tmpfs over
    # the read-only host root here): the profile's rules for the tool
    # (ix) and the system CA directory are what is tested.
    ca = "/var/lib/swtpm-localca"
    subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0750", "tmpfs", ca],
                   check=True)
    try:
        conf = tmp_path / "localca.conf"
        conf.write_text("statedir = %s\nsigningkey = %s/signkey.pem\n"
                        "issuercert = %s/issuercert.pem\n"
                        "certserial = %s/certserial\n" % (ca, ca, ca, ca))
        setup = tmp_path / "setup.conf"
        setup.write_text("create_certs_tool = %s\n"
                         "create_certs_tool_config = %s\n"
                         "create_certs_tool_options = "
                         "/etc/swtpm-localca.options\n"
                         "active_pcr_banks = sha256\n"
                         % (BIN / "swtpm_localca", conf))
        st = setup_with_certs(tmp_path, setup)
        assert (st / "ek-rsa2048.crt").stat().st_size > 0
        assert os.path.exists(os.path.join(ca, "issuercert.pem"))
        assert os.path.exists(os.path.join(ca, "certserial"))
    finally:
        subprocess.run(["umount", ca])


def test_setup_confined_with_builtin_ca_in_home(tmp_path, no_denials):
    # No create_certs_tool: the per-user CA in ~/.config (root's here).
    setup = tmp_path / "setup.conf"
    setup.write_text("active_pcr_banks = sha256\n")
    st = setup_with_certs(tmp_path, setup,
                          env={"HOME": "/root",
                               "XDG_CONFIG_HOME": "/root/.config"})
    assert (st / "ek-rsa2048.crt").stat().st_size > 0
    assert os.path.isdir("/root/.config/swtpm-localca")
