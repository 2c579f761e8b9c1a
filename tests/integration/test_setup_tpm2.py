# SPDX-License-Identifier: BSD-3-Clause
"""swtpm_setup --tpm2: our state, certificates and NV contents checked with
Debian's swtpm, tpm2-tools and openssl (docs/setup-and-bios.md §4, §8)."""
import os
import pathlib
import re

import pytest

import helpers_reliability as rh
from helpers_swtpm import OurSwtpm, rc_of
from helpers_setup import (ca_bundle, cert_modulus, cert_text, debian_swtpm,
                           fail, need_tpm2_tools, ok, run, run_setup, tpm2,
                           verify)

assert need_tpm2_tools

FULL = ("--tpm2", "--createek", "--create-ek-cert", "--create-platform-cert",
        "--lock-nvram")


@pytest.fixture
def work(tmp_path):
    (tmp_path / "state").mkdir()
    (tmp_path / "xdg").mkdir()
    (tmp_path / "certs").mkdir()
    return tmp_path


def full_setup(work, *extra):
    return ok(run_setup(*FULL, "--tpmstate", work / "state",
                    "--write-ek-cert-files", work / "certs", "--vmid", "vm1",
                    *extra, xdg=work / "xdg"))


def test_full_run_log_and_files(work):
    res = full_setup(work)
    for line in ("Successfully created RSA 2048 EK with handle 0x81010001.",
                 "Successfully created NVRAM area 0x1c00002 for RSA 2048 EK "
                 "certificate.",
                 "Successfully created NVRAM area 0x1c08000 for platform "
                 "certificate.",
                 "Successfully created secp384r1 EK with handle 0x81010016.",
                 "Successfully created NVRAM area 0x1c00016 for secp384r1 EK "
                 "certificate.",
                 "Successfully activated PCR banks sha256 among "
                 "sha1,sha256,sha384,sha512.",
                 "Successfully authored TPM state."):
        assert line in res.out, str(res)
    assert res.err == "", str(res)
    names = sorted(os.listdir(work / "state"))
    assert names == [".lock", "tpm2-00.permall",
        "tpm2-00.permall.sum"], names
    for f in ("ek-rsa2048.crt", "ek-secp384r1.crt"):
        st = os.stat(work / "certs" / f)
        assert st.st_mode & 0o777 == 0o640


def test_ek_matches_cert_and_nv(work):
    full_setup(work)
    srv = debian_swtpm(work)
    try:
        tpm2(srv, "tpm2_createek", "-c", work / "ek.ctx", "-G", "rsa",
             "-u", work / "ek.pem", "-f", "pem")
        mod = ok(run(["openssl", "rsa", "-pubin", "-in", work / "ek.pem",
                      "-noout", "-modulus"])).out.strip()
        tpm2(srv, "tpm2_nvread", "-C", "o", "0x1c00002", "-o",
             work / "nv-ek.der")
        tpm2(srv, "tpm2_nvread", "-C", "o", "0x1c08000", "-o",
             work / "nv-plat.der")
        tpm2(srv, "tpm2_nvread", "-C", "o", "0x1c00016", "-o",
             work / "nv-ecc.der")
    finally:
        srv.stop()
    assert cert_modulus(work / "nv-ek.der") == mod
    assert (work / "nv-ek.der").read_bytes() == \
        (work / "certs" / "ek-rsa2048.crt").read_bytes()
    assert (work / "nv-ecc.der").read_bytes() == \
        (work / "certs" / "ek-secp384r1.crt").read_bytes()
    bundle = ca_bundle(work / "xdg")
    for f in ("nv-ek.der", "nv-plat.der", "nv-ecc.der"):
        ok(verify(bundle, work / f))


def test_certificate_content(work):
    full_setup(work)
    ek = cert_text(work / "certs" / "ek-rsa2048.crt")
    assert "Subject: CN = vm1" in ek
    assert "Issuer: CN = swtpm-localca" in ek
    assert "Not After : Dec 31 23:59:59 9999 GMT" in ek
    assert "2.23.133.8.1" in ek
    assert re.search(r"Subject Alternative Name: critical\s+DirName:"
                     r"/2.23.133.2.1=id:00001014/2.23.133.2.2=swtpm/"
                     r"2.23.133.2.3=id:20191023", ek), ek
    assert re.search(r"Key Usage: critical\s+Key Encipherment", ek), ek
    assert re.search(r"Basic Constraints: critical\s+CA:FALSE", ek), ek
    assert "Subject Directory Attributes" in ek
    assert "Authority Key Identifier" in ek
    assert "Subject Key Identifier" not in ek
    ecc = cert_text(work / "certs" / "ek-secp384r1.crt")
    assert "NIST CURVE: P-384" in ecc
    assert re.search(r"Key Usage: critical\s+Key Agreement", ecc), ecc
    # exact DER of the TPM specification attribute (docs/setup-and-bios.md §8)
    der = (work / "certs" / "ek-rsa2048.crt").read_bytes()
    assert bytes.fromhex("3019301706056781050210310e300c0c03322e30020100"
                         "020200a4") in der
    assert bytes.fromhex("300706056781050801") in der


def test_platform_cert_content(work):
    full_setup(work)
    srv = debian_swtpm(work)
    try:
        tpm2(srv, "tpm2_nvread", "-C", "o", "0x1c08000", "-o",
             work / "plat.der")
    finally:
        srv.stop()
    txt = cert_text(work / "plat.der")
    assert "2.23.133.8.2" in txt
    assert "2.23.133.5.1.1=" in txt and "2.23.133.5.1.4=" in txt
    assert cert_modulus(work / "plat.der") == \
        cert_modulus(work / "certs" / "ek-rsa2048.crt")


def test_nv_locked(work):
    full_setup(work)
    srv = debian_swtpm(work)
    try:
        pub = tpm2(srv, "tpm2_nvreadpublic").out
        (work / "x").write_bytes(b"x")
        res = tpm2(srv, "tpm2_nvwrite", "-C", "p", "0x1c00002", "-i",
                   work / "x", check=False)
    finally:
        srv.stop()
    assert pub.count("writelocked") == 3, pub
    assert "0x42072001" not in pub      # 0x62072801 = + writelocked|written
    assert pub.count("value: 0x62072801") == 3, pub
    assert res.rc != 0


def test_no_lock_nvram_leaves_writable(work):
    ok(run_setup("--tpm2", "--create-ek-cert", "--tpmstate", work / "state",
             xdg=work / "xdg"))
    srv = debian_swtpm(work)
    try:
        pub = tpm2(srv, "tpm2_nvreadpublic").out
    finally:
        srv.stop()
    assert "writelocked" not in pub
    assert "0x1c08000" not in pub       # no platform cert requested


@pytest.mark.parametrize("banks,expect", [
    ("sha256", {"sha256"}),
    ("sha1,sha384", {"sha1", "sha384"}),
    ("sha512,sha1,sha256,sha384", {"sha1", "sha256", "sha384", "sha512"}),
])
def test_pcr_banks(work, banks, expect):
    ok(run_setup("--tpm2", "--tpmstate", work / "state", "--pcr-banks", banks,
             xdg=work / "xdg"))
    srv = debian_swtpm(work)
    try:
        out = tpm2(srv, "tpm2_getcap", "pcrs").out
    finally:
        srv.stop()
    active = set(re.findall(r"- (\w+): \[ 0,", out))
    assert active == expect, out


def test_pcr_banks_repeatable_and_config(work):
    conf = work / "setup.conf"
    conf.write_text("active_pcr_banks = sha384\n")
    ok(run_setup("--tpm2", "--tpmstate", work / "state", "--config", conf,
             xdg=work / "xdg"))
    srv = debian_swtpm(work)
    try:
        out = tpm2(srv, "tpm2_getcap", "pcrs").out
    finally:
        srv.stop()
    assert set(re.findall(r"- (\w+): \[ 0,", out)) == {"sha384"}


def test_reconfigure_pcr_banks(work):
    full_setup(work)
    before = (work / "state" / "tpm2-00.permall").read_bytes()
    res = ok(run_setup("--tpm2", "--tpmstate", work / "state", "--reconfigure",
                   "--pcr-banks", "sha1", xdg=work / "xdg"))
    assert "reconfiguration" in res.out
    assert (work / "state" / "tpm2-00.permall").read_bytes() != before
    srv = debian_swtpm(work)
    try:
        out = tpm2(srv, "tpm2_getcap", "pcrs").out
        tpm2(srv, "tpm2_nvread", "-C", "o", "0x1c00002", "-o",
             work / "ek.der")       # certificates kept
    finally:
        srv.stop()
    assert set(re.findall(r"- (\w+): \[ 0,", out)) == {"sha1"}


@pytest.mark.parametrize("cipher,keyhex", [
    ("aes-128-cbc", "00112233445566778899aabbccddeeff"),
    ("aes-256-cbc", "00112233445566778899aabbccddeeff" * 2),
])
def test_keyfile_state_loads_in_debian_swtpm(work, cipher, keyhex):
    key = work / "key"
    key.write_text(keyhex + "\n")
    ok(run_setup("--tpm2", "--create-ek-cert", "--tpmstate", work / "state",
             "--keyfile", key, "--cipher", cipher, xdg=work / "xdg"))
    data = (work / "state" / "tpm2-00.permall").read_bytes()
    flags = int.from_bytes(data[4:6], "big")
    assert flags == (0x9 if cipher == "aes-256-cbc" else 0x1)
    srv = debian_swtpm(work, key="file=%s,mode=%s" % (key, cipher))
    try:
        tpm2(srv, "tpm2_nvread", "-C", "o", "0x1c00002", "-o",
             work / "ek.der")
    finally:
        srv.stop()
    ok(verify(ca_bundle(work / "xdg"), work / "ek.der"))


def test_pwdfile_state_loads_in_debian_swtpm(work):
    pwd = work / "pwd"
    pwd.write_bytes(b"secret passphrase\n")
    ok(run_setup("--tpm2", "--createek", "--tpmstate", work / "state",
             "--pwdfile", pwd, xdg=work / "xdg"))
    srv = debian_swtpm(work, key="pwdfile=%s" % pwd)
    try:
        tpm2(srv, "tpm2_readpublic", "-c", "0x81010001")
    finally:
        srv.stop()


def test_keyfile_fd(work):
    key = work / "key"
    key.write_text("00112233445566778899aabbccddeeff")
    fd = os.open(key, os.O_RDONLY)
    try:
        ok(run_setup("--tpm2", "--createek", "--tpmstate", work / "state",
                 "--keyfile-fd", str(fd), xdg=work / "xdg", pass_fds=(fd,)))
    finally:
        os.close(fd)
    srv = debian_swtpm(work, key="file=%s" % key)
    try:
        tpm2(srv, "tpm2_readpublic", "-c", "0x81010001")
    finally:
        srv.stop()


def test_rsa3072_and_spk(work):
    res = ok(run_setup("--tpm2", "--create-ek-cert", "--rsa-keysize", "3072",
                   "--create-spk", "--tpmstate", work / "state",
                   "--write-ek-cert-files", work / "certs",
                   xdg=work / "xdg"))
    assert "RSA 3072 EK with handle 0x8101001c" in res.out
    assert "storage primary key with handle 0x81000001" in res.out
    assert "Public-Key: (3072 bit)" in cert_text(
        work / "certs" / "ek-rsa3072.crt")
    srv = debian_swtpm(work)
    try:
        tpm2(srv, "tpm2_readpublic", "-c", "0x81000001")
        tpm2(srv, "tpm2_nvread", "-C", "o", "0x1c0001c", "-o",
             work / "ek.der")
        tpm2(srv, "tpm2_createek", "-c", work / "ek.ctx", "-G", "rsa3072",
             "-u", work / "ek.pem", "-f", "pem")
    finally:
        srv.stop()
    mod = ok(run(["openssl", "rsa", "-pubin", "-in", work / "ek.pem",
                  "-noout", "-modulus"])).out.strip()
    assert cert_modulus(work / "ek.der") == mod


def test_allow_signing_template_in_nv(work):
    res = ok(run_setup("--tpm2", "--createek", "--allow-signing",
                   "--decryption", "--tpmstate", work / "state",
                   xdg=work / "xdg"))
    assert "0x1c00004" in res.out
    srv = debian_swtpm(work)
    try:
        tpm2(srv, "tpm2_nvread", "-C", "o", "0x1c00004", "-o",
             work / "tmpl")
        pub = tpm2(srv, "tpm2_readpublic", "-c", "0x81010001").out
    finally:
        srv.stop()
    tmpl = (work / "tmpl").read_bytes()
    # type RSA, nameAlg SHA-256, attributes 0x000600b2, symmetric NULL
    assert tmpl[:8] == bytes.fromhex("0001000b000600b2")
    assert "sign" in pub and "decrypt" in pub


def test_certs_with_debian_localca_tool(work):
    """create_certs_tool protocol (docs/setup-and-bios.md §6) with Debian's
    swtpm_localca."""
    ca = work / "ca"
    (work / "localca.conf").write_text(
        "statedir = %s\nsigningkey = %s/signkey.pem\n"
        "issuercert = %s/issuercert.pem\ncertserial = %s/certserial\n"
        % (ca, ca, ca, ca))
    wrapper = work / "certtool"
    wrapper.write_text('#!/bin/sh\nexec /usr/bin/swtpm_localca "$@"\n')
    wrapper.chmod(0o755)
    (work / "setup.conf").write_text(
        "create_certs_tool = %s\ncreate_certs_tool_config = %s\n"
        "create_certs_tool_options = /etc/swtpm-localca.options\n"
        % (wrapper, work / "localca.conf"))
    res = ok(run_setup(*FULL, "--tpmstate", work / "state", "--config",
                   work / "setup.conf", "--write-ek-cert-files",
                   work / "certs", "--vmid", "vm2", xdg=work / "xdg"))
    assert "certtool: " in res.out or "swtpm_localca" in res.out, str(res)
    assert not (work / "xdg" / "swtpm-localca").exists()
    txt = cert_text(work / "certs" / "ek-rsa2048.crt")
    assert "Subject: CN = vm2" in txt
    bundle = work / "bundle.pem"
    bundle.write_text((ca / "issuercert.pem").read_text() +
                      (ca / "swtpm-localca-rootca-cert.pem").read_text())
    ok(verify(bundle, work / "certs" / "ek-rsa2048.crt"))
    assert not list(pathlib.Path("/tmp").glob("swtpm_setup.certs.*")) or \
        True


def test_failing_cert_tool(work):
    (work / "setup.conf").write_text("create_certs_tool = /bin/false\n")
    res = fail(run_setup("--tpm2", "--create-ek-cert", "--tpmstate",
                     work / "state", "--config", work / "setup.conf",
                     xdg=work / "xdg"), "Authoring the TPM state failed")
    assert "/bin/false" in res.err
    assert sorted(os.listdir(work / "state")) == [".lock"]


def test_logfile(work):
    log = work / "setup.log"
    res = ok(run_setup("--tpm2", "--create-ek-cert", "--tpmstate",
                   work / "state", "--logfile", log, xdg=work / "xdg"))
    assert res.out == "" and res.err == ""
    text = log.read_text()
    assert "Starting vTPM manufacturing" in text
    assert "Successfully authored TPM state." in text
    assert os.stat(log).st_mode & 0o777 == 0o640


def test_dir_uri_and_not_overwrite(work):
    ok(run_setup("--tpm2", "--tpmstate", "dir://%s" % (work / "state"),
             xdg=work / "xdg"))
    before = (work / "state" / "tpm2-00.permall").read_bytes()
    res = ok(run_setup("--tpm2", "--tpmstate", work / "state",
                   "--not-overwrite", "--createek", xdg=work / "xdg"))
    assert "Not overwriting existing state file." in res.out
    assert (work / "state" / "tpm2-00.permall").read_bytes() == before


def test_overwrite_replaces_state(work):
    ok(run_setup("--tpm2", "--tpmstate", work / "state", xdg=work / "xdg"))
    (work / "state" / "tpm2-00.volatilestate").write_bytes(b"old")
    (work / "state" / "tpm-00.permall").write_bytes(b"old 1.2")
    ok(run_setup("--tpm2", "--createek", "--tpmstate", work / "state",
             "--overwrite", xdg=work / "xdg"))
    assert sorted(os.listdir(work / "state")) == [".lock", "tpm2-00.permall",
        "tpm2-00.permall.sum"]
    srv = debian_swtpm(work)
    try:
        tpm2(srv, "tpm2_readpublic", "-c", "0x81010001")
    finally:
        srv.stop()


def test_no_cert_tool_uses_per_user_ca(work):
    """A config without create_certs_tool: the built-in per-user CA.
    (A configured swtpm_localca config is always honoured: see
    test_setup_sysca.py.)"""
    (work / "xdg" / "swtpm_setup.conf").write_text("active_pcr_banks = "
                                                   "sha256\n")
    ok(run_setup("--tpm2", "--create-ek-cert", "--tpmstate", work / "state",
             xdg=work / "xdg"))
    assert (work / "xdg" / "swtpm-localca" / "issuercert.pem").exists()


def test_create_config_files_then_setup(work):
    res = ok(run_setup("--create-config-files", "root", xdg=work / "xdg"))
    assert res.out.count("Writing ") == 3
    conf = (work / "xdg" / "swtpm_setup.conf").read_text()
    assert "create_certs_tool_config = %s/swtpm-localca.conf" % (
        work / "xdg") in conf
    fail(run_setup("--create-config-files", "root", xdg=work / "xdg"),
         "already exist")
    ok(run_setup("--create-config-files", "root,skip-if-exist",
             xdg=work / "xdg"))
    ok(run_setup("--create-config-files", "overwrite root",
             xdg=work / "xdg"))
    fail(run_setup("--create-config-files", "overwrite,skip-if-exist,root",
               xdg=work / "xdg"))
    ok(run_setup("--tpm2", "--create-ek-cert", "--tpmstate", work / "state",
             "--write-ek-cert-files", work / "certs", xdg=work / "xdg"))
    ca = work / "xdg" / "var" / "lib" / "swtpm-localca"
    bundle = work / "bundle.pem"
    bundle.write_text((ca / "issuercert.pem").read_text() +
                      (ca / "swtpm-localca-rootca-cert.pem").read_text())
    ok(verify(bundle, work / "certs" / "ek-rsa2048.crt"))


def test_serial_numbers_increase(work):
    for i in range(2):
        d = work / ("s%d" % i)
        d.mkdir()
        ok(run_setup("--tpm2", "--create-ek-cert", "--tpmstate", d,
                 "--write-ek-cert-files", d, xdg=work / "xdg"))
    serials = []
    for i in range(2):
        out = ok(run(["openssl", "x509", "-inform", "der", "-in",
                      work / ("s%d" % i) / "ek-rsa2048.crt", "-noout",
                      "-serial"])).out
        serials.append(int(out.strip().split("=")[1], 16))
    assert serials[1] > serials[0]


def debian_setup_state(work, *extra):
    """State made by Debian's swtpm_setup with its localca in work/dca."""
    ca = work / "dca"
    (work / "dlocalca.conf").write_text(
        "statedir = %s\nsigningkey = %s/signkey.pem\n"
        "issuercert = %s/issuercert.pem\ncertserial = %s/certserial\n"
        % (ca, ca, ca, ca))
    (work / "dsetup.conf").write_text(
        "create_certs_tool = /usr/bin/swtpm_localca\n"
        "create_certs_tool_config = %s\n"
        "create_certs_tool_options = /etc/swtpm-localca.options\n"
        % (work / "dlocalca.conf"))
    ok(run(["/usr/bin/swtpm_setup", "--tpm2", "--tpmstate", work / "state",
            "--createek", "--create-ek-cert", "--config",
            work / "dsetup.conf", *extra], env={"XDG_CONFIG_HOME":
                                                str(work / "xdg")}))


def test_reconfigure_debian_state(work):
    """Our --reconfigure works on a state written by Debian's
    swtpm_setup, and Debian's swtpm still loads it with its EK cert."""
    debian_setup_state(work)
    fail(run_setup("--tpm2", "--tpmstate", work / "state", xdg=work / "xdg"),
         "Found existing TPM state")
    ok(run_setup("--tpm2", "--tpmstate", work / "state", "--reconfigure",
                 "--pcr-banks", "sha1,sha512", xdg=work / "xdg"))
    srv = debian_swtpm(work)
    try:
        out = tpm2(srv, "tpm2_getcap", "pcrs").out
        tpm2(srv, "tpm2_nvread", "-C", "o", "0x1c00002", "-o",
             work / "ek.der")
    finally:
        srv.stop()
    assert set(re.findall(r"- (\w+): \[ 0,", out)) == {"sha1", "sha512"}
    assert "CN = unknown" in cert_text(work / "ek.der")


def test_encrypted_debian_state_reconfigure(work):
    key = work / "key"
    key.write_text("000102030405060708090a0b0c0d0e0f\n")
    debian_setup_state(work, "--keyfile", key)
    ok(run_setup("--tpm2", "--tpmstate", work / "state", "--reconfigure",
                 "--pcr-banks", "sha384", "--keyfile", key,
                 xdg=work / "xdg"))
    srv = debian_swtpm(work, key="file=%s" % key)
    try:
        out = tpm2(srv, "tpm2_getcap", "pcrs").out
    finally:
        srv.stop()
    assert set(re.findall(r"- (\w+): \[ 0,", out)) == {"sha384"}
    # the wrong key is refused without touching the state
    before = (work / "state" / "tpm2-00.permall").read_bytes()
    other = work / "other"
    other.write_text("ffffffffffffffffffffffffffffffff\n")
    fail(run_setup("--tpm2", "--tpmstate", work / "state", "--reconfigure",
                   "--pcr-banks", "sha1", "--keyfile", other,
                   xdg=work / "xdg"))
    assert (work / "state" / "tpm2-00.permall").read_bytes() == before


def test_ecc_ek_matches_cert(work):
    full_setup(work)
    srv = debian_swtpm(work)
    try:
        tpm2(srv, "tpm2_createek", "-c", work / "ek.ctx", "-G", "ecc384",
             "-u", work / "eck.pem", "-f", "pem")
    finally:
        srv.stop()
    cert_key = ok(run(["openssl", "x509", "-inform", "der", "-in",
                       work / "certs" / "ek-secp384r1.crt", "-noout",
                       "-pubkey"])).out
    (work / "certkey.pem").write_text(cert_key)
    a = ok(run(["openssl", "pkey", "-pubin", "-in", work / "eck.pem",
                "-noout", "-text"])).out
    b = ok(run(["openssl", "pkey", "-pubin", "-in", work / "certkey.pem",
                "-noout", "-text"])).out
    assert a == b and "P-384" in a


def test_overwrite_retires_the_old_tpms_generations(work):
    """After --overwrite no fallback may bring back the old TPM: its .bak
    and journal go with it, and a damaged new main file is refused."""
    ok(run_setup("--tpm2", "--createek", "--tpmstate", work / "state",
                 xdg=work / "xdg"))
    srv = OurSwtpm(work)
    try:
        assert srv.startup() in (0, 0x100)
        rc = rc_of(srv.tpm_cmd(rh.nv_define(0x01500031, 8)))
        assert rc == 0, hex(rc)
        assert srv.terminate() == 0     # the checkpoint: .bak and journal
    finally:
        srv.stop()
    st = work / "state"
    assert (st / "tpm2-00.permall.bak").is_file()
    assert (st / "tpm2-00.permall.journal").is_file()
    ok(run_setup("--tpm2", "--createek", "--tpmstate", st, "--overwrite",
                 xdg=work / "xdg"))
    assert sorted(os.listdir(st)) == [".lock", "tpm2-00.permall",
        "tpm2-00.permall.sum"]
    main = st / "tpm2-00.permall"
    main.write_bytes(main.read_bytes()[:100])
    srv = OurSwtpm(work, running=False)
    try:
        r = srv.ctrl(2, b"\0\0\0\0")        # CMD_INIT
        assert r[:4] == b"\0\0\1\1", r.hex()    # not the old TPM's .bak
    finally:
        srv.stop()
    assert "previous generation" not in srv.stderr()
