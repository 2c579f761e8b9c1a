# SPDX-License-Identifier: BSD-3-Clause
"""swtpm_cert (docs/setup-and-bios.md §8) against Debian's swtpm_cert
0.7.1: the same inputs give certificates that openssl parses the same,
they verify, and bad input fails cleanly leaving old output intact."""
import os
import re
import shutil
import subprocess
import tempfile

import pytest

from conftest import tool
from helpers_setup import fail, ok, run

CERT = tool("swtpm_cert")
DEBIAN_CERT = "/usr/bin/swtpm_cert"
TPM = ["--tpm-manufacturer", "id:00001014", "--tpm-model", "swtpm",
       "--tpm-version", "id:20191023"]
SPEC = ["--tpm-spec-family", "2.0", "--tpm-spec-level", "0",
        "--tpm-spec-revision", "164"]
PLAT = ["--platform-manufacturer", "Fedora", "--platform-model", "QEMU",
        "--platform-version", "2.1"]


def openssl(*args):
    return ok(run(["openssl"] + [str(a) for a in args]))


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """A CA (RSA-2048, self-signed), an RSA EK and a P-384 EK."""
    d = tmp_path_factory.mktemp("keys")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
            d / "ca.key", "-out", d / "ca.pem", "-subj", "/CN=test-ca/O=T",
            "-days", "30")
    openssl("genrsa", "-out", d / "ek.key", "2048")
    mod = openssl("rsa", "-in", d / "ek.key", "-noout",
                  "-modulus").out.strip().split("=")[1]
    openssl("ecparam", "-name", "secp384r1", "-genkey", "-noout", "-out",
            d / "ec.key")
    pub = subprocess.run(["openssl", "ec", "-in", d / "ec.key", "-pubout",
                          "-outform", "der"], capture_output=True,
                         check=True).stdout[-96:].hex()
    return {"dir": d, "ca": ["--signkey", d / "ca.key", "--issuercert",
                             d / "ca.pem"],
            "rsa": ["--modulus", mod],
            "ecc": ["--ecc-x", pub[:96], "--ecc-y", pub[96:],
                    "--ecc-curveid", "secp384r1"]}


def parsed(path, header):
    """openssl's text of a certificate without the time-dependent parts."""
    data = path.read_bytes()
    if header:
        data = data[7:]
    der = path.with_suffix(".body")
    der.unlink(missing_ok=True)
    der.write_bytes(data)
    txt = openssl("x509", "-inform", "der", "-in", der, "-noout",
                  "-text").out
    txt = re.sub(r"Not (Before|After) *:.*", "", txt)
    # the signature bytes differ with the validity dates
    return re.sub(r"Signature Value:(\n +[0-9a-f:]+)+", "", txt)


CASES = {
    "tpm2-ek-rsa": ["--tpm2", "--subject", "CN=vm1,O=Org,C=US"] + SPEC,
    "tpm2-platform": ["--tpm2", "--type", "platform", "--subject",
                      "CN=vm1"] + PLAT,
    "tpm12-ek": ["--add-header", "--subject", "CN=ignored"] + SPEC,
    "tpm12-platform": ["--add-header", "--type", "platform"] + PLAT,
    "tpm2-sign-decrypt": ["--tpm2", "--allow-signing", "--decryption",
                          "--subject", "CN=vm1"] + SPEC,
    "tpm2-sign-only": ["--tpm2", "--allow-signing"] + SPEC,
    "serial": ["--tpm2", "--serial", "1234567890123456789"] + SPEC,
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("key", ["rsa", "ecc"])
def test_same_as_debian(keys, tmp_path, name, key):
    args = TPM + keys["ca"] + keys[key] + CASES[name] + ["--days", "-1"]
    ok(run([DEBIAN_CERT] + args + ["--out-cert", tmp_path / "d.der"]))
    ok(run([CERT] + args + ["--out-cert", tmp_path / "o.der"]))
    header = "--add-header" in args
    assert parsed(tmp_path / "o.der", header) == \
        parsed(tmp_path / "d.der", header)
    if header:
        d, o = (tmp_path / "d.der").read_bytes(), \
            (tmp_path / "o.der").read_bytes()
        assert o[:3] == d[:3] == bytes.fromhex("100100")
        assert o[5:7] == bytes.fromhex("1002")
        assert int.from_bytes(o[3:5], "big") == len(o) - 5
    verify = [run(["openssl", "verify", "-CAfile", keys["dir"] / "ca.pem",
                   pem_of(tmp_path / f)]) for f in ("o.body", "d.body")]
    if name == "tpm12-platform":
        # upstream's SAN here is not a valid Name (docs/setup-and-bios.md §8,
        # Notes): openssl
        # rejects both certificates alike
        assert verify[0].rc == verify[1].rc != 0, str(verify[0])
    else:
        ok(verify[0])
    assert (tmp_path / "o.der").stat().st_mode & 0o777 == 0o600


def pem_of(der):
    pem = der.with_suffix(".pem")
    openssl("x509", "-inform", "der", "-in", der, "-out", pem)
    return pem


def test_pem_and_days(keys, tmp_path):
    out = tmp_path / "c.pem"
    ok(run([CERT] + TPM + SPEC + keys["ca"] + keys["rsa"] +
           ["--tpm2", "--pem", "--days", "10", "--out-cert", out]))
    assert out.read_text().startswith("-----BEGIN CERTIFICATE-----")
    dates = openssl("x509", "-in", out, "-noout", "-dates").out
    start = re.search(r"notBefore=(.*)", dates).group(1)
    end = re.search(r"notAfter=(.*)", dates).group(1)
    # ten days later, same time of day
    assert start.split()[-2] == end.split()[-2]
    assert start != end


def test_serial_limits(keys, tmp_path):
    base = [CERT] + TPM + SPEC + keys["ca"] + keys["rsa"] + ["--tpm2"]
    big = "1461501637330902918203684832716283019655932542975"  # 2^160-1
    ok(run(base + ["--serial", big, "--out-cert", tmp_path / "a.der"]))
    serial = openssl("x509", "-inform", "der", "-in", tmp_path / "a.der",
                     "-noout", "-serial").out
    assert serial.strip() == "serial=" + "F" * 40
    for bad in ("1461501637330902918203684832716283019655932542976", "0",
                "-1", "abc", "0x10", ""):
        (tmp_path / "b.der").write_bytes(b"old")
        res = fail(run(base + ["--serial", bad, "--out-cert",
                               tmp_path / "b.der"]),
                   "Serial number is invalid.")
        assert res.out == ""
        assert (tmp_path / "b.der").read_bytes() == b"old"


def test_bad_input_keeps_old_output(keys, tmp_path):
    d = keys["dir"]
    junk = tmp_path / "junk.pem"
    junk.write_text("not a key\n")
    base = [CERT] + TPM + SPEC + ["--tpm2"]
    out = tmp_path / "out.der"
    cases = [
        (keys["ca"] + keys["rsa"] + ["--bogus"],
         "unrecognized option '--bogus'"),
        (["--signkey", junk, "--issuercert", d / "ca.pem"] + keys["rsa"],
         "Could not import signing key"),
        (["--signkey", d / "ca.key", "--issuercert", junk] + keys["rsa"],
         "Could not import issuer certificate"),
        (["--signkey", d / "ca.key", "--issuercert", tmp_path / "none"]
         + keys["rsa"], "none: No such file or directory"),
        (["--signkey", d / "ek.key", "--issuercert", d / "ca.pem"]
         + keys["rsa"], "does not belong to the issuer certificate"),
        (keys["ca"] + ["--modulus", "12zz"], "Illegal hex character 'z'"),
        (keys["ca"] + keys["ecc"][:4] + ["--ecc-curveid", "secp999"],
         "Unknown curve id 'secp999'"),
        (keys["ca"] + ["--ecc-x", "11", "--ecc-y", "22"],
         "public key"),
        (keys["ca"], "Missing public EK file and modulus or ECC"),
        (keys["ca"] + keys["rsa"] + ["--type", "foo"],
         "Unknown certificate type 'foo'."),
        (keys["ca"] + keys["rsa"] + ["--type", "platform"],
         "--platform-manufacturer and --platform-model"),
        (keys["rsa"] + ["--issuercert", d / "ca.pem"],
         "Missing signature key."),
        (keys["ca"] + keys["rsa"] + ["--days", "x"], "--days"),
        (keys["ca"] + keys["rsa"] + ["--subject", "NOSUCH=1"],
         "invalid certificate subject"),
        # keys below a TPM's 2048 bits (upstream refuses "abc", "0000")
        (keys["ca"] + ["--modulus", "abc"],
         "--modulus is an RSA key of 12 bits; a TPM's has at least 2048"),
        (keys["ca"] + ["--modulus", "0000"], "RSA key of 0 bits"),
        (keys["ca"] + ["--modulus", "c" + "0" * 254 + "1"],
         "RSA key of 1024 bits"),
        (keys["ca"] + ["--pubkey", d / "small.pub"],
         "small.pub is an RSA key of 1024 bits"),
        # a FIFO would hold the tool in open(): refused, never read
        (["--signkey", tmp_path / "fifo", "--issuercert", d / "ca.pem"]
         + keys["rsa"], "fifo: a FIFO or socket, which is never read"),
        (["--signkey", d / "ca.key", "--issuercert", tmp_path / "fifo"]
         + keys["rsa"], "fifo: a FIFO or socket, which is never read"),
    ]
    if not (d / "small.pub").exists():
        openssl("genrsa", "-out", tmp_path / "small.key", "1024")
        openssl("rsa", "-in", tmp_path / "small.key", "-pubout", "-out",
                d / "small.pub")
        (tmp_path / "small.key").unlink()
    os.mkfifo(tmp_path / "fifo")
    for extra, needle in cases:
        out.write_bytes(b"old")
        fail(run(base + extra + ["--out-cert", out]), needle)
        assert out.read_bytes() == b"old", extra
    fail(run([CERT] + TPM + keys["ca"] + keys["rsa"] + ["--tpm2"]),
         "--tpm-spec-family and --tpm-spec-level")
    fail(run([CERT] + keys["ca"] + keys["rsa"]), "--tpm-manufacturer and")
    assert sorted(os.listdir(tmp_path)) == ["fifo", "junk.pem", "out.der"]


def test_signkey_passwords(keys, tmp_path):
    d = keys["dir"]
    enc = tmp_path / "enc.key"
    openssl("pkey", "-in", d / "ca.key", "-aes256", "-passout",
            "pass:s3cret", "-out", enc)
    (tmp_path / "pw").write_text("s3cret\n")
    base = [CERT] + TPM + SPEC + keys["rsa"] + [
        "--tpm2", "--signkey", enc, "--issuercert", d / "ca.pem",
        "--out-cert", tmp_path / "c.der"]
    for pwd in ("s3cret", "pass:s3cret", "file:%s" % (tmp_path / "pw"),
                "env:CA_PW"):
        ok(run(base + ["--signkey-pwd", pwd], env={"CA_PW": "s3cret"}))
    ok(run(base + ["--signkey-password", "s3cret"]))
    with open(tmp_path / "pw") as f:
        proc = subprocess.run(base + ["--signkey-pwd", "fd:%d" % f.fileno()],
                              pass_fds=(f.fileno(),), capture_output=True,
                              text=True)
    assert proc.returncode == 0, proc.stderr
    fail(run(base + ["--signkey-pwd", "wrong"]), "wrong password")
    fail(run(base), "Could not import signing key")
    fail(run(base + ["--signkey-pwd", "env:NO_SUCH_VAR_X"]), "NO_SUCH_VAR_X")


def test_permission_error_names_path_user_right(keys):
    """As nobody, a root-only CA key: the error says who lacks what."""
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv")
    d = tempfile.mkdtemp(prefix="swtpm-cert-perm-")
    try:
        os.chmod(d, 0o755)
        key = os.path.join(d, "ca.key")
        shutil.copy(keys["dir"] / "ca.key", key)
        os.chmod(key, 0o600)
        shutil.copy(keys["dir"] / "ca.pem", os.path.join(d, "ca.pem"))
        os.chmod(os.path.join(d, "ca.pem"), 0o644)
        res = fail(run(["setpriv", "--reuid=nobody", "--regid=nogroup",
                        "--clear-groups", CERT] + TPM + SPEC + keys["rsa"] +
                       ["--tpm2", "--signkey", key, "--issuercert",
                        os.path.join(d, "ca.pem"), "--out-cert",
                        os.path.join(d, "x.der")]),
                   key, "Permission denied", "user nobody",
                   "read permission")
        assert res.out == ""
        os.chmod(key, 0o644)
        fail(run(["setpriv", "--reuid=nobody", "--regid=nogroup",
                  "--clear-groups", CERT] + TPM + SPEC + keys["rsa"] +
                 ["--tpm2", "--signkey", key, "--issuercert",
                  os.path.join(d, "ca.pem"), "--out-cert",
                  os.path.join(d, "x.der")]),
             os.path.join(d, "x.der"), "Permission denied", "user nobody",
             "write permission")
    finally:
        shutil.rmtree(d)


def test_stdout_and_info_options(keys):
    res = run([CERT] + TPM + SPEC + keys["ca"] + keys["rsa"] +
              ["--tpm2", "--pem"])
    ok(res)
    assert res.out.startswith("-----BEGIN CERTIFICATE-----")
    caps = ok(run([CERT, "--print-capabilities"])).out
    assert caps.startswith('{ "type": "swtpm_cert", "features": [ '
                           '"cmdarg-signkey-pwd" ], "version": "')
    assert ok(run([CERT, "--version"])).out.startswith(
        "TPM certificate tool version ")
    assert "--signkey-pwd <pwd>" in ok(run([CERT, "--help"])).out


@pytest.mark.parametrize("typ", ["ek", "platform"])
def test_debian_localca_drives_our_swtpm_cert(tmp_path, typ):
    """Upstream's swtpm_localca finds swtpm_cert in PATH: with ours there
    it works unchanged, including a password-protected signing key
    (--signkey-pwd file:...) and the options file's words."""
    ca = tmp_path / "ca"
    (tmp_path / "bin").mkdir()
    (tmp_path / "out").mkdir()
    used = tmp_path / "used"
    wrapper = tmp_path / "bin" / "swtpm_cert"
    wrapper.write_text('#!/bin/sh\necho "$@" >> %s\nexec %s "$@"\n'
                       % (used, CERT))
    wrapper.chmod(0o755)
    (tmp_path / "lc.conf").write_text(
        "statedir = %s\nsigningkey = %s/signkey.pem\n"
        "issuercert = %s/issuercert.pem\ncertserial = %s/certserial\n"
        "signingkey_password = pw123\n" % (ca, ca, ca, ca))
    (tmp_path / "lc.opts").write_text(
        "--platform-manufacturer Fedora\n--platform-version 2.1\n"
        "--platform-model QEMU\n")
    mod = openssl("genrsa", "2048").out
    (tmp_path / "ek.key").write_text(mod)
    mod = openssl("rsa", "-in", tmp_path / "ek.key", "-noout",
                  "-modulus").out.strip().split("=")[1]
    res = ok(run(["/usr/bin/swtpm_localca", "--type", typ, "--ek", mod,
                  "--dir", tmp_path / "out", "--vmid", "vm9",
                  "--configfile", tmp_path / "lc.conf", "--optsfile",
                  tmp_path / "lc.opts", "--tpm2"] + TPM + SPEC,
                 env={"PATH": "%s:%s" % (tmp_path / "bin",
                                         os.environ["PATH"])}))
    assert "Successfully created %s certificate locally." % (
        "EK" if typ == "ek" else "platform") in res.out
    assert "--signkey-pwd file:" in used.read_text()
    cert = tmp_path / "out" / (typ + ".cert")
    bundle = tmp_path / "bundle.pem"
    bundle.write_text((ca / "issuercert.pem").read_text() +
                      (ca / "swtpm-localca-rootca-cert.pem").read_text())
    ok(run(["openssl", "verify", "-CAfile", bundle, pem_of(cert)]))
    if typ == "ek":
        assert "Subject: CN = vm9" in parsed(cert, False)
