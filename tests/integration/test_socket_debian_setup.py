# SPDX-License-Identifier: BSD-3-Clause
"""Debian's swtpm_setup (upstream 0.7.1, a peer only) drives OUR swtpm
socket: it reads each control reply with a single read, so every reply
must go out in one write (issue 11).  The state it writes then loads in
our swtpm and tpm2-tools reads the EK certificate from NV."""
import os
import subprocess

import pytest

from conftest import tool
from helpers_swtpm import swtpm_factory  # noqa: F401 (fixture)

DEBIAN_SETUP = "/usr/bin/swtpm_setup"
DEBIAN_LOCALCA = "/usr/bin/swtpm_localca"

pytestmark = pytest.mark.skipif(
    not (os.access(DEBIAN_SETUP, os.X_OK) and os.access(DEBIAN_LOCALCA,
                                                        os.X_OK)),
    reason="Debian's swtpm-tools peer is not installed")


def _config(tmp_path):
    ca = tmp_path / "ca"
    ca.mkdir()
    localca = tmp_path / "swtpm-localca.conf"
    localca.write_text("statedir = %s\nsigningkey = %s/signkey.pem\n"
                       "issuercert = %s/issuercert.pem\n"
                       "certserial = %s/certserial\n" % (ca, ca, ca, ca))
    opts = tmp_path / "swtpm-localca.options"
    opts.write_text("--platform-manufacturer Test\n--platform-version 2.1\n"
                    "--platform-model QEMU\n")
    conf = tmp_path / "swtpm_setup.conf"
    conf.write_text("create_certs_tool = %s\ncreate_certs_tool_config = %s\n"
                    "create_certs_tool_options = %s\n"
                    % (DEBIAN_LOCALCA, localca, opts))
    return conf


def _debian_setup(tmp_path, state, *extra):
    env = dict(os.environ)
    env.pop("TPM_PATH", None)
    argv = [DEBIAN_SETUP, *extra, "--tpm", "%s socket" % tool("swtpm"),
            "--tpm-state", str(state), "--createek", "--create-ek-cert",
            "--create-platform-cert", "--lock-nvram",
            "--config", str(_config(tmp_path))]
    return subprocess.run(argv, capture_output=True, text=True, env=env,
                          timeout=300)


def test_debian_swtpm_setup_tpm2_on_our_swtpm(tmp_path, swtpm_factory):
    state = tmp_path / "state"
    state.mkdir()
    p = _debian_setup(tmp_path, state, "--tpm2")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "Successfully authored TPM state." in p.stdout + p.stderr
    srv = swtpm_factory(extra=["--tpmstate", "dir=%s" % state])
    assert srv.startup() == 0
    r = subprocess.run(["tpm2_nvread", "-T", srv.tcti(), "0x01c00002"],
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout[:1] == b"\x30"     # a DER SEQUENCE: the certificate


def test_debian_swtpm_setup_tpm12_on_our_swtpm(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    p = _debian_setup(tmp_path, state)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "Successfully authored TPM state." in p.stdout + p.stderr
    assert any(f.name.startswith("tpm-00.permall") for f in state.iterdir())
