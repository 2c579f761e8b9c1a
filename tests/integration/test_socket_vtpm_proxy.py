# SPDX-License-Identifier: BSD-3-Clause
"""`swtpm chardev --vtpm-proxy`: the kernel's /dev/tpmN served by our
emulator, used with tpm2-tools' device TCTI.  Needs /dev/vtpmx (the
tpm_vtpm_proxy module), so it runs in the tests/vm guest:
  tests/vm/run-in-vm -- tests/integration/run -m cuse -k socket
"""
import os
import re
import shutil
import signal
import subprocess
import time

import pytest

from conftest import tool

pytestmark = pytest.mark.cuse


def tpm2(dev, *args, log=None, tries=1):
    argv = [args[0], "-T", "device:%s" % dev] + [str(a) for a in args[1:]]
    for _ in range(tries):
        p = subprocess.run(argv, capture_output=True, timeout=120)
        if p.returncode == 0:
            break
        time.sleep(0.5)
    assert p.returncode == 0, "%s\n%s\nswtpm log:\n%s" % (
        argv, p.stderr.decode(), log.read_text() if log else "")
    return p.stdout


@pytest.mark.skipif(not os.path.exists("/dev/vtpmx"),
                    reason="no /dev/vtpmx (tpm_vtpm_proxy not loaded)")
@pytest.mark.skipif(not shutil.which("tpm2_getrandom"),
                    reason="tpm2-tools not installed")
def test_vtpm_proxy_tpm2_device(tmp_path):
    state = tmp_path / "st"
    state.mkdir()
    log = tmp_path / "swtpm.err"
    err = open(log, "wb")
    argv = [tool("swtpm"), "chardev", "--vtpm-proxy", "--tpm2",
            "--tpmstate", "dir=%s" % state, "--log", "fd=2,level=2"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err)
    try:
        line = proc.stdout.readline().decode()
        m = re.match(r"New TPM device: (/dev/tpm\d+) ", line)
        assert m, "%s: %r\n%s" % (argv, line,
                                  (tmp_path / "swtpm.err").read_text())
        dev = m.group(1)
        for _ in range(200):
            if os.path.exists(dev):
                break
            time.sleep(0.05)
        assert os.path.exists(dev), dev
        # The kernel registers the chip asynchronously: the node may exist
        # a moment before it answers.
        rnd = tpm2(dev, "tpm2_getrandom", "--hex", "16", log=log, tries=10)
        assert len(rnd.strip()) == 32
        tpm2(dev, "tpm2_pcrextend", "16:sha256=" + "22" * 32, log=log)
        out = tpm2(dev, "tpm2_pcrread", "sha256:16", log=log)
        assert b"0x" in out and b"0x000000" not in out.split(b"16:")[-1]
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
        err.close()
    log = (tmp_path / "swtpm.err").read_text()
    assert rc == 0, log
    assert "AddressSanitizer" not in log
