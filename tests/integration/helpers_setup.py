# SPDX-License-Identifier: BSD-3-Clause
"""Helpers for swtpm_setup tests: run our tool, start Debian's swtpm on the
state it wrote, and drive tpm2-tools / openssl against it."""
import os
import pathlib
import shlex
import subprocess

import pytest

from conftest import tool
from helpers_socket import BAD_STDERR, SwtpmServer

SETUP = tool("swtpm_setup")
DEBIAN_SETUP = "/usr/bin/swtpm_setup"
DEBIAN_LOCALCA = "/usr/bin/swtpm_localca"
TIMEOUT = 120


class Run:
    """Outcome of one command; str() gives the command to rerun."""

    def __init__(self, argv, proc, env):
        self.argv = argv
        self.rc = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr
        self.env = env

    def __str__(self):
        envs = " ".join("%s=%s" % (k, shlex.quote(v))
                        for k, v in sorted(self.env.items()))
        return ("command: %s %s\nexit: %d\nstdout:\n%s\nstderr:\n%s"
                % (envs, shlex.join(self.argv), self.rc, self.out, self.err))


def run(argv, env=None, check_stderr=True, timeout=TIMEOUT, **kw):
    full = dict(os.environ)
    full.update(env or {})
    argv = [str(a) for a in argv]
    proc = subprocess.run(argv, capture_output=True, text=True, env=full,
                          timeout=timeout, **kw)
    res = Run(argv, proc, env or {})
    if check_stderr:
        for bad in BAD_STDERR:
            assert bad not in res.err, str(res)
    return res


def run_setup(*args, xdg, env=None, **kw):
    """Run our swtpm_setup with XDG_CONFIG_HOME=xdg (per-user CA there).

    Without --config the host's /etc/swtpm_setup.conf would name the
    system CA in /var/lib/swtpm-localca, which tests must not change: an
    empty user swtpm_setup.conf in xdg (found first) keeps the CA per
    user unless the test wrote its own."""
    names = [str(a) for a in args]
    user_conf = pathlib.Path(xdg) / "swtpm_setup.conf"
    if ("--config" not in names and "--create-config-files" not in names
            and "--print-capabilities" not in names
            and not user_conf.exists()):
        os.makedirs(xdg, exist_ok=True)
        user_conf.write_text("# tests: no create_certs_tool, per-user CA\n")
    e = {"XDG_CONFIG_HOME": str(xdg)}
    e.update(env or {})
    return run([SETUP] + list(args), env=e, **kw)


def ok(res):
    assert res.rc == 0, str(res)
    return res


def fail(res, *needles, rc=1):
    assert res.rc == rc, str(res)
    text = res.err + res.out
    for n in needles:
        assert n in text, "missing %r\n%s" % (n, res)
    return res


def ca_bundle(xdg):
    """The default per-user CA: intermediate + root as one PEM file."""
    ca = pathlib.Path(xdg) / "swtpm-localca"
    bundle = pathlib.Path(xdg) / "ca-bundle.pem"
    bundle.write_text((ca / "issuercert.pem").read_text() +
                      (ca / "swtpm-localca-rootca-cert.pem").read_text())
    return bundle


def der_to_pem(der_path):
    pem = pathlib.Path(str(der_path) + ".pem")
    ok(run(["openssl", "x509", "-inform", "der", "-in", der_path,
            "-out", pem]))
    return pem


def verify(cafile, der_path):
    return run(["openssl", "verify", "-CAfile", cafile,
                der_to_pem(der_path)])


def cert_text(der_path):
    return ok(run(["openssl", "x509", "-inform", "der", "-in", der_path,
                   "-noout", "-text"])).out


def cert_modulus(der_path):
    return ok(run(["openssl", "x509", "-inform", "der", "-in", der_path,
                   "-noout", "-modulus"])).out.strip()


def tree(path):
    """{relative name: bytes} of every file below path."""
    out = {}
    for p in sorted(pathlib.Path(path).rglob("*")):
        if p.is_file():
            out[str(p.relative_to(path))] = p.read_bytes()
    return out


def debian_swtpm(workdir, tpm2=True, key=None):
    """Debian's swtpm socket on workdir/state, started like libvirt does."""
    extra = ["--flags", "not-need-init,startup-clear"]
    if key:
        extra += ["--key", key]
    return SwtpmServer(workdir, tpm2, running=False, extra=extra)


def tpm2(srv, *args, check=True):
    res = run([args[0], "-T", srv.tcti()] + list(args[1:]),
              check_stderr=False)
    if check:
        assert res.rc == 0, str(res)
    return res


@pytest.fixture
def need_tpm2_tools():
    for t in ("tpm2_createek", "tpm2_nvread", "tpm2_getcap", "openssl"):
        if subprocess.run(["which", t], capture_output=True).returncode:
            pytest.skip("%s not installed" % t)
