# SPDX-License-Identifier: BSD-3-Clause
"""swtpm_localca (docs/setup-and-bios.md §6, §7): Debian's swtpm_setup
with our tool, our swtpm_setup with Debian's tool, certificates like
Debian's swtpm_localca makes, parallel runs on one CA, and bad input or
missing rights that fail cleanly and leave the CA as it was."""
import os
import re
import shutil
import subprocess
import tempfile

import pytest

from conftest import tool
from helpers_setup import (DEBIAN_LOCALCA, DEBIAN_SETUP, cert_text, fail, ok,
                           run, run_setup, tree)

LOCALCA = tool("swtpm_localca")
OPTS = ("--platform-manufacturer Fedora\n--platform-version 2.1\n"
        "--platform-model QEMU\n")
TPM = ["--tpm-manufacturer", "id:00001014", "--tpm-model", "swtpm",
       "--tpm-version", "id:20191023"]
SPEC = ["--tpm-spec-family", "2.0", "--tpm-spec-level", "0",
        "--tpm-spec-revision", "164"]


def ca_conf(work, name="ca"):
    ca = work / name
    conf = work / (name + ".conf")
    conf.write_text("statedir = %s\nsigningkey = %s/signkey.pem\n"
                    "issuercert = %s/issuercert.pem\n"
                    "certserial = %s/certserial\n" % (ca, ca, ca, ca))
    return ca, conf


@pytest.fixture
def work(tmp_path):
    for d in ("state", "xdg", "certs", "out"):
        (tmp_path / d).mkdir()
    (tmp_path / "opts").write_text(OPTS)
    return tmp_path


@pytest.fixture(scope="module")
def modulus(tmp_path_factory):
    d = tmp_path_factory.mktemp("ek")
    ok(run(["openssl", "genrsa", "-out", d / "ek.key", "2048"]))
    return ok(run(["openssl", "rsa", "-in", d / "ek.key", "-noout",
                   "-modulus"])).out.strip().split("=")[1]


def localca(work, conf, typ, ek, *extra, prog=LOCALCA, out="out", **kw):
    return run([prog, "--type", typ, "--ek", ek, "--dir", work / out,
                "--configfile", conf, "--optsfile", work / "opts",
                "--vmid", "vm1"] + TPM + list(extra), **kw)


def bundle(work, ca):
    b = work / (ca.name + "-bundle.pem")
    b.write_text((ca / "issuercert.pem").read_text() +
                 (ca / "swtpm-localca-rootca-cert.pem").read_text())
    return b


def verify_der(cafile, der):
    pem = str(der) + ".pem"
    ok(run(["openssl", "x509", "-inform", "der", "-in", der, "-out", pem]))
    return run(["openssl", "verify", "-CAfile", cafile, pem])


def serial_of(der):
    out = ok(run(["openssl", "x509", "-inform", "der", "-in", der, "-noout",
                  "-serial"])).out
    return int(out.strip().split("=")[1], 16)


@pytest.mark.parametrize("tpm2", [True, False])
def test_debian_setup_with_our_localca(work, tpm2):
    """Upstream's swtpm_setup (and Debian's swtpm as the TPM) runs our
    swtpm_localca through the create_certs_tool protocol."""
    ca, conf = ca_conf(work)
    (work / "setup.conf").write_text(
        "create_certs_tool = %s\ncreate_certs_tool_config = %s\n"
        "create_certs_tool_options = %s\n" % (LOCALCA, conf, work / "opts"))
    args = ["--tpmstate", work / "state", "--createek", "--create-ek-cert",
            "--create-platform-cert", "--config", work / "setup.conf",
            "--vmid", "myvm", "--logfile", work / "log"]
    args += (["--tpm2", "--write-ek-cert-files", work / "certs"] if tpm2
             else ["--take-ownership", "--srk-well-known",
                   "--owner-well-known"])
    ok(run([DEBIAN_SETUP] + args, env={"XDG_CONFIG_HOME": str(work / "xdg")}))
    log = (work / "log").read_text()
    assert "Successfully created EK certificate locally." in log
    assert "Successfully created platform certificate locally." in log
    assert "Successfully authored TPM state." in log
    if tpm2:
        for name in ("ek-rsa2048.crt", "ek-secp384r1.crt"):
            ok(verify_der(bundle(work, ca), work / "certs" / name))
            assert "Subject: CN = myvm" in cert_text(work / "certs" / name)
    # the CA dir holds the CA, the lock and the counter; nothing else
    assert sorted(os.listdir(ca)) == sorted([
        ".lock.swtpm-localca", "certserial", "issuercert.pem", "signkey.pem",
        "swtpm-localca-rootca-cert.pem", "swtpm-localca-rootca-privkey.pem"])


def test_our_setup_with_debian_localca_under_another_name(work):
    """Our swtpm_setup execs upstream's swtpm_localca by the protocol when
    the configured tool is not named swtpm_localca (TPM 1.2 here; the
    TPM 2 case is test_setup_tpm2.py::test_certs_with_debian_localca_tool).
    """
    ca, conf = ca_conf(work)
    link = work / "upstream-localca"
    link.symlink_to(DEBIAN_LOCALCA)
    (work / "setup.conf").write_text(
        "create_certs_tool = %s\ncreate_certs_tool_config = %s\n"
        "create_certs_tool_options = %s\n" % (link, conf, work / "opts"))
    res = ok(run_setup("--tpmstate", work / "state", "--createek",
                       "--create-ek-cert", "--create-platform-cert",
                       "--take-ownership", "--srk-well-known",
                       "--owner-well-known", "--config", work / "setup.conf",
                       xdg=work / "xdg"))
    assert "upstream-localca: Successfully created EK certificate " \
           "locally." in res.out, str(res)
    assert (ca / "signkey.pem").exists()
    assert not (work / "xdg" / "swtpm-localca").exists()


def masked(der, header):
    data = open(der, "rb").read()[7 if header else 0:]
    body = str(der) + ".body"
    with open(body, "wb") as f:
        f.write(data)
    txt = ok(run(["openssl", "x509", "-inform", "der", "-in", body,
                  "-noout", "-text"])).out
    txt = re.sub(r"Not (Before|After) *:.*", "", txt)
    txt = re.sub(r"Serial Number:\n? *[0-9a-f:]+.*", "", txt)
    txt = re.sub(r"Authority Key Identifier: *\n *[0-9A-F:]+", "", txt)
    txt = re.sub(r"Signature Algorithm: .*", "", txt)
    return re.sub(r"Signature Value:(\n +[0-9a-f:]+)+", "", txt)


@pytest.mark.parametrize("typ", ["ek", "platform"])
@pytest.mark.parametrize("tpm2", [True, False])
def test_same_certificates_as_debian_localca(work, modulus, typ, tpm2):
    """Each tool with its own CA, same inputs: the certificates differ
    only in serial, key identifier and signature."""
    extra = SPEC + (["--tpm2"] if tpm2 else [])
    _, ours = ca_conf(work, "ours")
    _, theirs = ca_conf(work, "theirs")
    (work / "out2").mkdir()
    ok(localca(work, ours, typ, modulus, *extra))
    ok(localca(work, theirs, typ, modulus, *extra, prog=DEBIAN_LOCALCA,
               out="out2"))
    name = typ + ".cert"
    assert masked(work / "out" / name, not tpm2) == \
        masked(work / "out2" / name, not tpm2)
    assert (work / "out" / name).stat().st_mode & 0o777 == 0o600


def test_serial_numbers(work, modulus):
    ca, conf = ca_conf(work)
    res = ok(localca(work, conf, "ek", modulus, *SPEC, "--tpm2"))
    # upstream's lines, as swtpm_setup logs them
    assert res.out == ("Creating swtpm-localca dir '%s'.\n"
                       "Creating root CA and a local CA's signing key and "
                       "issuer cert.\n"
                       "Successfully created EK certificate locally.\n"
                       % ca), str(res)
    first = int((ca / "certserial").read_text())
    # A missing counter starts at random in 1..2^62 + 1, where Debian's
    # 0.7.1 can go on counting (docs/setup-and-bios.md §7 step 3).
    assert 1 < first <= 2 ** 62 + 1
    assert serial_of(work / "out" / "ek.cert") == first
    (ca / "certserial").write_text("41")
    ok(localca(work, conf, "ek", modulus, *SPEC, "--tpm2"))
    assert serial_of(work / "out" / "ek.cert") == 42
    assert (ca / "certserial").read_text() == "42"
    # 0 is 0.7.1's counter after an overflow: never count on from it.
    for junk in ("abc", "", "9" * 60, "0"):
        (ca / "certserial").write_text(junk)
        ok(localca(work, conf, "ek", modulus, *SPEC, "--tpm2"))
        assert 1 < serial_of(work / "out" / "ek.cert") <= 2 ** 62 + 1


def test_parallel_runs_share_one_ca(work, modulus):
    """Eight tools at once on a CA that does not exist yet: one CA is
    created, every serial is unique, the counter holds the last one."""
    ca, conf = ca_conf(work)
    procs = []
    for i in range(8):
        (work / ("o%d" % i)).mkdir()
        procs.append(subprocess.Popen(
            [LOCALCA, "--type", "ek", "--ek", modulus, "--dir",
             work / ("o%d" % i), "--configfile", conf, "--optsfile",
             work / "opts", "--tpm2"] + TPM + SPEC,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        assert "Successfully created EK certificate locally." in out
    serials = [serial_of(work / ("o%d" % i) / "ek.cert") for i in range(8)]
    assert len(set(serials)) == 8
    assert int((ca / "certserial").read_text()) == max(serials)
    assert sorted(serials) == list(range(min(serials), min(serials) + 8))
    b = bundle(work, ca)
    for i in range(8):
        ok(verify_der(b, work / ("o%d" % i) / "ek.cert"))
    assert not [n for n in os.listdir(ca) if "XXXXXX" in n or ".pem." in n
                or "certserial." in n]


def need_debian_localca():
    if not os.access(DEBIAN_LOCALCA, os.X_OK):
        pytest.skip("Debian's swtpm_localca is not installed")


def ek_cert(work, prog, conf, modulus, out, opts=None, tpm=TPM):
    """One EK certificate by prog; its serial, after checking the run."""
    (work / out).mkdir(exist_ok=True)
    res = ok(run([prog, "--type", "ek", "--ek", modulus, "--dir",
                  work / out, "--configfile", conf, "--optsfile",
                  opts or work / "opts", "--vmid", "vm1", "--tpm2"] +
                 list(tpm) + SPEC))
    assert res.out.endswith("Successfully created EK certificate "
                            "locally.\n"), str(res)
    return serial_of(work / out / "ek.cert")


def test_serials_shared_with_debian_0_7_1(work, modulus):
    # Both directions on one CA directory, as on a host where versions
    # mix: each tool counts on from the other's last serial.
    need_debian_localca()
    ca, conf = ca_conf(work)
    first = ek_cert(work, LOCALCA, conf, modulus, "a")
    assert 1 < first <= 2 ** 62 + 1
    assert ek_cert(work, DEBIAN_LOCALCA, conf, modulus, "b") == first + 1
    assert int((ca / "certserial").read_text()) == first + 1
    assert ek_cert(work, LOCALCA, conf, modulus, "c") == first + 2
    b = bundle(work, ca)
    for out in "abc":
        ok(verify_der(b, work / out / "ek.cert"))
    # A CA that 0.7.1 made (its counter starts at 1): ours counts on.
    ca2, conf2 = ca_conf(work, "debca")
    start = ek_cert(work, DEBIAN_LOCALCA, conf2, modulus, "d")
    assert ek_cert(work, LOCALCA, conf2, modulus, "e") == start + 1
    assert int((ca2 / "certserial").read_text()) == start + 1
    ok(verify_der(bundle(work, ca2), work / "e" / "ek.cert"))


def test_upstream_0_9_twenty_digit_counter_goes_on(work, modulus):
    # Upstream 0.9 starts at a random 20-digit number: such a CA keeps
    # counting from it, never back into a new range.
    ca, conf = ca_conf(work)
    ek_cert(work, LOCALCA, conf, modulus, "a")
    big = 87654321098765432109
    (ca / "certserial").write_text(str(big))
    assert ek_cert(work, LOCALCA, conf, modulus, "b") == big + 1
    assert (ca / "certserial").read_text() == str(big + 1)
    ok(verify_der(bundle(work, ca), work / "b" / "ek.cert"))


def test_options_file_and_signing_key_password(work, modulus):
    # The TPM's manufacturer, model and version one per line in the
    # options file; a signingkey_password encrypts the signing key, and
    # each of ours and Debian's 0.7.1 continues the other's CA.
    need_debian_localca()
    opts = work / "full.opts"
    opts.write_text(OPTS + "--tpm-manufacturer IBM\n"
                    "--tpm-model swtpm-libtpms\n--tpm-version 2\n")
    cas = {}
    for name, prog in (("ours", LOCALCA), ("deb", DEBIAN_LOCALCA)):
        ca, conf = ca_conf(work, name)
        with open(conf, "a") as f:
            f.write("signingkey_password = pass word 1\n")
        cas[name] = (ca, conf)
        ek_cert(work, prog, conf, modulus, name, opts=opts, tpm=())
        key = (ca / "signkey.pem").read_text()
        assert key.startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----\n"), \
            name
        text = cert_text(work / name / "ek.cert")
        assert "2.23.133.2.1=IBM" in text and "2.23.133.2.3=2" in text, text
    for ours_ca, prog, out in (("ours", DEBIAN_LOCALCA, "x"),
                               ("deb", LOCALCA, "y")):
        ca, conf = cas[ours_ca]
        before = int((ca / "certserial").read_text())
        assert ek_cert(work, prog, conf, modulus, out, opts=opts,
                       tpm=()) == before + 1
        ok(verify_der(bundle(work, ca), work / out / "ek.cert"))


def test_bad_input_leaves_ca_intact(work, modulus):
    ca, conf = ca_conf(work)
    ok(localca(work, conf, "ek", modulus, *SPEC, "--tpm2"))
    before = tree(ca)
    cases = [
        (["--bogus"], None),
        (["--ek", "12zz"], "Invalid --ek '12zz'"),
        (["--ek", "x=11,q=2"], "Invalid --ek"),
        (["--type", "foo"], "--type must be 'ek' or 'platform'"),
        (["--configfile", work / "nonexistent.conf"],
         "nonexistent.conf"),
        (["--optsfile", work / "nonexistent.opts"], "nonexistent.opts"),
    ]
    for extra, needle in cases:
        res = run([LOCALCA, "--type", "ek", "--ek", modulus, "--dir",
                   work / "out", "--configfile", conf, "--optsfile",
                   work / "opts", "--tpm2"] + TPM + SPEC +
                  [str(e) for e in extra])
        assert res.rc == 1, str(res)
        if needle:
            assert needle in res.err, str(res)
        assert tree(ca) == before, extra
    # a broken signing key: clear error, nothing of the CA changes
    (ca / "signkey.pem").write_text("garbage\n")
    before = tree(ca)
    fail(localca(work, conf, "ek", modulus, *SPEC, "--tpm2"),
         "cannot load the signing key")
    assert tree(ca) == before
    # a config without statedir
    (work / "bad.conf").write_text("signingkey = /x\n")
    fail(localca(work, work / "bad.conf", "ek", modulus, *SPEC, "--tpm2"),
         "lacks 'statedir'")
    res = ok(run([LOCALCA, "--help"]))
    assert "--tpm-spec-family s" in res.out
    ok(run([LOCALCA, "-h"]))


def test_permission_errors_name_path_user_right(modulus):
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv")
    d = tempfile.mkdtemp(prefix="swtpm-localca-perm-")
    try:
        os.chmod(d, 0o755)
        ca = os.path.join(d, "ca")
        os.mkdir(ca, 0o755)
        conf = os.path.join(d, "ca.conf")
        with open(conf, "w") as f:
            f.write("statedir = %s\nsigningkey = %s/signkey.pem\n"
                    "issuercert = %s/issuercert.pem\n" % (ca, ca, ca))
        opts = os.path.join(d, "opts")
        with open(opts, "w") as f:
            f.write(OPTS)
        os.chmod(conf, 0o644)
        os.chmod(opts, 0o644)
        out = os.path.join(d, "out")
        os.mkdir(out, 0o777)
        os.chmod(out, 0o777)
        res = run(["setpriv", "--reuid=nobody", "--regid=nogroup",
                   "--clear-groups", LOCALCA, "--type", "ek", "--ek",
                   modulus, "--dir", out, "--configfile", conf, "--optsfile",
                   opts, "--tpm2"] + TPM + SPEC)
        fail(res, ca, "nobody", "Permission denied", "writable")
        assert os.listdir(ca) == []
        os.chmod(conf, 0o600)
        fail(run(["setpriv", "--reuid=nobody", "--regid=nogroup",
                  "--clear-groups", LOCALCA, "--type", "ek", "--ek",
                  modulus, "--dir", out, "--configfile", conf,
                  "--optsfile", opts, "--tpm2"] + TPM + SPEC),
             conf, "read rights", "user nobody", "Permission denied")
    finally:
        shutil.rmtree(d)


def test_ca_files_in_their_own_directories(work, modulus):
    """Missing directories of the signing key, issuer certificate and
    counter are created; the root CA goes next to the signing key."""
    conf = work / "split.conf"
    conf.write_text("statedir = %s/st\nsigningkey = %s/keys/sk.pem\n"
                    "issuercert = %s/certs2/ic.pem\n"
                    "certserial = %s/ctr/serial\n"
                    % (work, work, work, work))
    ok(localca(work, conf, "ek", modulus, *SPEC, "--tpm2"))
    assert sorted(os.listdir(work / "keys")) == [
        "sk.pem", "swtpm-localca-rootca-cert.pem",
        "swtpm-localca-rootca-privkey.pem"]
    assert os.listdir(work / "certs2") == ["ic.pem"]
    assert os.listdir(work / "ctr") == ["serial"]
    assert os.listdir(work / "st") == [".lock.swtpm-localca"]
    b = work / "split-bundle.pem"
    b.write_text((work / "certs2" / "ic.pem").read_text() +
                 (work / "keys" / "swtpm-localca-rootca-cert.pem")
                 .read_text())
    ok(verify_der(b, work / "out" / "ek.cert"))


def test_fifo_inputs_are_refused_not_waited_for(work, modulus):
    """A FIFO as config, options file, signing key, issuer certificate or
    counter would hold the tool in open() or read() (upstream's hangs
    there): each is refused at once, naming the file, and the CA is as it
    was.  The timeout is the test's: a hang fails it."""
    ca, conf = ca_conf(work)
    ok(localca(work, conf, "ek", modulus, *SPEC, "--tpm2"))
    fifo = work / "fifo"
    os.mkfifo(fifo)
    for name in ("signkey.pem", "issuercert.pem", "certserial"):
        target = ca / name
        os.rename(target, work / "saved")
        os.mkfifo(target)
        before = tree(ca)
        res = fail(localca(work, conf, "ek", modulus, *SPEC, "--tpm2",
                           timeout=20), str(target), "a FIFO or socket, which is never read")
        assert "Successfully" not in res.out
        assert tree(ca) == before, name
        os.unlink(target)
        os.rename(work / "saved", target)
    fail(run([LOCALCA, "--type", "ek", "--ek", modulus, "--dir",
              work / "out", "--configfile", fifo, "--optsfile",
              work / "opts", "--tpm2"] + TPM + SPEC, timeout=20),
         str(fifo), "a FIFO or socket, which is never read")
    fail(run([LOCALCA, "--type", "ek", "--ek", modulus, "--dir",
              work / "out", "--configfile", conf, "--optsfile", fifo,
              "--tpm2"] + TPM + SPEC, timeout=20),
         str(fifo), "a FIFO or socket, which is never read")


def test_small_rsa_keys_are_refused(work, modulus):
    """A 12-bit modulus ("abc"), zero ("0000") or a 1024-bit key gets no
    certificate: TPMs' EKs have 2048 bits or more.  The refused run
    spends no serial."""
    ca, conf = ca_conf(work)
    (ca.parent / "ca").mkdir()
    (ca / "certserial").write_text("41")
    small = "c" + "0" * 254 + "1"
    for ek, bits in (("abc", 12), ("0000", 0), (small, 1024)):
        res = fail(localca(work, conf, "ek", ek, *SPEC, "--tpm2"),
                   "RSA key of %d bits; a TPM's has at least 2048" % bits)
        assert "Successfully" not in res.out
        assert not (work / "out" / "ek.cert").exists()
        assert (ca / "certserial").read_text() == "41"
    ok(localca(work, conf, "ek", modulus, *SPEC, "--tpm2"))
    assert serial_of(work / "out" / "ek.cert") == 42


def test_counter_edge_cases(work, modulus):
    """Spaces around the counter's number count on from it; at 2^160 - 1,
    the largest serial, the next run starts again at random (upstream's
    rule) instead of every later run failing."""
    ca, conf = ca_conf(work)
    ek_cert(work, LOCALCA, conf, modulus, "a")
    (ca / "certserial").write_text("  41 \n")
    assert ek_cert(work, LOCALCA, conf, modulus, "b") == 42
    (ca / "certserial").write_text(str(2 ** 160 - 1))
    again = ek_cert(work, LOCALCA, conf, modulus, "c")
    assert 1 <= again <= 2 ** 62 + 1
    assert ek_cert(work, LOCALCA, conf, modulus, "d") == again + 1


def test_options_file_with_400_words(work, modulus):
    """Upstream takes an options file of 400 words; so do we (the words
    the tool does not know are swtpm_cert's to refuse, as upstream)."""
    ca, conf = ca_conf(work)
    opts = work / "many.opts"
    opts.write_text(OPTS * 67)          # 6 words a time: 402 words
    ek_cert(work, LOCALCA, conf, modulus, "a", opts=opts)
    if os.access(DEBIAN_LOCALCA, os.X_OK):
        ek_cert(work, DEBIAN_LOCALCA, conf, modulus, "b", opts=opts)
