# SPDX-License-Identifier: BSD-3-Clause
"""Our `swtpm socket` with our swtpm_ioctl / swtpm_bios and with Debian's
(/usr/bin, upstream 0.7.1) clients: control commands over TCP and Unix
sockets, state blobs moved between two of our servers."""
import os
import subprocess

import pytest

from helpers_swtpm import rc_of, swtpm_factory  # noqa: F401 (fixture)
from conftest import tool

TIMEOUT = 60


def client(which, name, *args):
    exe = tool(name) if which == "ours" else "/usr/bin/" + name
    if which == "debian" and not os.access(exe, os.X_OK):
        pytest.skip("%s is not installed" % exe)
    argv = [exe] + [str(a) for a in args]
    p = subprocess.run(argv, capture_output=True, text=True,
                       timeout=TIMEOUT)
    return p, argv


def ok(res, srv):
    p, argv = res
    assert p.returncode == 0, "%s\n%s%s\n%s" % (argv, p.stdout, p.stderr,
                                               srv)
    return p.stdout


CLIENTS = ["ours", "debian"]


@pytest.fixture(params=[(c, t, v) for c in CLIENTS for t in ("tcp", "unix")
                        for v in (True, False)],
                ids=lambda p: "%s-%s-%s" % (p[0], p[1],
                                            "tpm2" if p[2] else "tpm12"))
def combo(request):
    return request.param


def test_ioctl_basic_commands(combo, swtpm_factory):
    who, transport, tpm2 = combo
    srv = swtpm_factory(tpm2=tpm2, transport=transport, running=False)
    ioctl = lambda *a: client(who, "swtpm_ioctl", *srv.ctrl_args(), *a)
    caps = ok(ioctl("-c"), srv)
    assert ("0x1ffff" if tpm2 else "0x17fff") in caps.lower()
    ok(ioctl("-i"), srv)
    assert srv.startup() == 0
    assert "tpmEstablished is 0" in ok(ioctl("-e"), srv)
    ok(ioctl("-l", "3"), srv)
    ok(ioctl("-h", "some data to hash"), srv)
    assert "tpmEstablished is 1" in ok(ioctl("-e"), srv)
    ok(ioctl("-r", "3"), srv)
    assert "tpmEstablished is 0" in ok(ioctl("-e"), srv)
    ok(ioctl("-v"), srv)
    if tpm2:
        ok(ioctl("-C"), srv)    # libtpms' TPM 1.2 cannot cancel: TPM_FAIL
    ok(ioctl("--stop"), srv)
    assert srv.alive()
    ok(ioctl("-s"), srv)
    assert srv.wait_exit() == 0


def test_bios(combo, swtpm_factory):
    who, transport, tpm2 = combo
    srv = swtpm_factory(tpm2=tpm2, transport=transport, running=True)
    extra = ["--tpm2"] if tpm2 else []
    ok(client(who, "swtpm_bios", *srv.data_args(), *extra), srv)
    assert srv.alive()


@pytest.mark.parametrize("saver", CLIENTS)
@pytest.mark.parametrize("loader", CLIENTS)
def test_save_load_between_servers(saver, loader, swtpm_factory, tmp_path):
    src = swtpm_factory(tpm2=True, running=True)
    assert src.startup() == 0
    # Extend PCR 16 so the moved state is recognisable.
    ext = bytes.fromhex("80020000004100000182" "00000010"
                        "00000009" "40000009" "000000" "0000"
                        "00000001" "000b") + b"\x42" * 32
    assert rc_of(src.tpm_cmd(ext)) == 0
    pcrread = bytes.fromhex("8001000000140000017e" "00000001000b03000001")
    before = src.tpm_cmd(pcrread)
    assert rc_of(before) == 0
    # Like a live migration: the running TPM's state, volatile included.
    blobs = {}
    for kind in ("permanent", "volatile"):
        blobs[kind] = tmp_path / (kind + ".blob")
        ok(client(saver, "swtpm_ioctl", *src.ctrl_args(), "--save", kind,
                  blobs[kind]), src)
        assert blobs[kind].stat().st_size > 0
    dst = swtpm_factory(tpm2=True, transport="unix", running=False)
    for kind in ("permanent", "volatile"):
        ok(client(loader, "swtpm_ioctl", *dst.ctrl_args(), "--load", kind,
                  blobs[kind]), dst)
    ok(client(loader, "swtpm_ioctl", *dst.ctrl_args(), "-i"), dst)
    after = dst.tpm_cmd(pcrread)
    assert rc_of(after) == 0
    assert after[-32:] == before[-32:]
    assert after[-32:] != bytes(32)
