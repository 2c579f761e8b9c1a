# SPDX-License-Identifier: BSD-3-Clause
"""States made by swtpm_setup (Debian's and ours) load in our swtpm_cuse:
the EK recreated by tpm2-tools matches the certificate in NV.  Runs in the
tests/vm guest (CUSE)."""
import subprocess

import pytest

from helpers_cuse import cuse_tpm, tpm2_ok
from helpers_setup import ok, run, run_setup

pytestmark = pytest.mark.cuse


def debian_setup(tmp_path, state, *extra):
    ca = tmp_path / "dca"
    (tmp_path / "localca.conf").write_text(
        "statedir = %s\nsigningkey = %s/signkey.pem\n"
        "issuercert = %s/issuercert.pem\ncertserial = %s/certserial\n"
        % (ca, ca, ca, ca))
    (tmp_path / "setup.conf").write_text(
        "create_certs_tool = /usr/bin/swtpm_localca\n"
        "create_certs_tool_config = %s\n"
        "create_certs_tool_options = /etc/swtpm-localca.options\n"
        % (tmp_path / "localca.conf"))
    ok(run(["/usr/bin/swtpm_setup", "--tpm2", "--tpmstate", state,
            "--createek", "--create-ek-cert", "--lock-nvram", "--config",
            tmp_path / "setup.conf", *extra],
           env={"XDG_CONFIG_HOME": str(tmp_path / "xdg")}))


def check_ek(tmp_path, state, extra=()):
    with cuse_tpm(tmp_path, state=state, extra=extra) as t:
        with t.open() as d:
            assert d.init() == 0
        tpm2_ok(["tpm2_startup", "-c"], t.dev)
        tpm2_ok(["tpm2_createek", "-c", str(tmp_path / "ek.ctx"), "-G",
                 "rsa", "-u", str(tmp_path / "ek.pem"), "-f", "pem"], t.dev)
        cert = tpm2_ok(["tpm2_nvread", "-C", "o", "0x1c00002"], t.dev)
    (tmp_path / "ek.der").write_bytes(cert)
    m1 = subprocess.run(["openssl", "rsa", "-pubin", "-in",
                         str(tmp_path / "ek.pem"), "-noout", "-modulus"],
                        capture_output=True, text=True).stdout
    m2 = subprocess.run(["openssl", "x509", "-inform", "der", "-in",
                         str(tmp_path / "ek.der"), "-noout", "-modulus"],
                        capture_output=True, text=True).stdout
    assert m1 and m1 == m2


def test_debian_setup_state_in_cuse(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    debian_setup(tmp_path, state)
    check_ek(tmp_path, state)


def test_debian_setup_encrypted_state_in_cuse(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    key = tmp_path / "key"
    key.write_text("00112233445566778899aabbccddeeff\n")
    debian_setup(tmp_path, state, "--keyfile", key)
    check_ek(tmp_path, state, extra=("--key", "file=%s" % key))


def test_our_setup_state_in_cuse(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    key = tmp_path / "key"
    key.write_text("00112233445566778899aabbccddeeff" * 2)
    ok(run_setup("--tpm2", "--create-ek-cert", "--lock-nvram", "--tpmstate",
                 state, "--keyfile", key, "--cipher", "aes-256-cbc",
                 xdg=tmp_path / "xdg"))
    check_ek(tmp_path, state,
             extra=("--key", "file=%s,mode=aes-256-cbc" % key))
