# SPDX-License-Identifier: BSD-3-Clause
"""swtpm_setup --tpm: drive an external emulator (Debian's `swtpm socket`)
over socketpairs instead of libtpms in-process (docs/setup-and-bios.md §2.1)."""
import os

import pytest

from helpers_setup import (ca_bundle, debian_swtpm, fail, need_tpm2_tools,
                           ok, run_setup, tpm2, verify)

assert need_tpm2_tools


@pytest.fixture
def work(tmp_path):
    (tmp_path / "state").mkdir()
    (tmp_path / "xdg").mkdir()
    return tmp_path


def test_ext_tpm2_with_key(work):
    key = work / "key"
    key.write_text("00112233445566778899aabbccddeeff")
    res = ok(run_setup("--tpm", "/usr/bin/swtpm socket", "--tpm2",
                       "--create-ek-cert", "--create-platform-cert",
                       "--lock-nvram", "--keyfile", key, "--pcr-banks",
                       "sha1,sha256", "--tpmstate", work / "state",
                       xdg=work / "xdg"))
    assert "TPM is listening on Unix socket." in res.out
    assert sorted(os.listdir(work / "state")) == [".lock", "tpm2-00.permall",
        "tpm2-00.permall.sum"]
    srv = debian_swtpm(work, key="file=%s" % key)
    try:
        tpm2(srv, "tpm2_nvread", "-C", "o", "0x1c00002", "-o",
             work / "ek.der")
        pub = tpm2(srv, "tpm2_nvreadpublic").out
    finally:
        srv.stop()
    assert pub.count("writelocked") == 3
    ok(verify(ca_bundle(work / "xdg"), work / "ek.der"))


def test_ext_tpm12(work):
    res = ok(run_setup("--tpm", "swtpm socket", "--take-ownership",
                       "--create-ek-cert", "--lock-nvram", "--tpmstate",
                       work / "state", xdg=work / "xdg"))
    assert "Successfully took ownership of the TPM." in res.out
    assert sorted(os.listdir(work / "state")) == [".lock", "tpm-00.permall",
        "tpm-00.permall.sum"]


def test_ext_reconfigure(work):
    ok(run_setup("--tpm2", "--createek", "--tpmstate", work / "state",
                 xdg=work / "xdg"))
    ok(run_setup("--tpm", "swtpm socket", "--tpm2", "--reconfigure",
                 "--pcr-banks", "sha384", "--tpmstate", work / "state",
                 xdg=work / "xdg"))
    srv = debian_swtpm(work)
    try:
        out = tpm2(srv, "tpm2_getcap", "pcrs").out
    finally:
        srv.stop()
    assert "sha384: [ 0," in out and "sha256: [ ]" in out


def test_ext_missing_program(work):
    fail(run_setup("--tpm", "/nonexistent/swtpm socket", "--tpm2",
                   "--tpmstate", work / "state", xdg=work / "xdg"),
         "is not an executable program")
    assert os.listdir(work / "state") in ([], [".lock"])


def test_ext_program_fails(work):
    fail(run_setup("--tpm", "/bin/false", "--tpm2", "--createek",
                   "--tpmstate", work / "state", xdg=work / "xdg"),
         "did not start")
    assert os.listdir(work / "state") in ([], [".lock"])


def test_ext_our_swtpm(work):
    from conftest import tool
    ours = tool("swtpm")
    if not os.access(ours, os.X_OK):
        pytest.skip("our swtpm is not built")
    ok(run_setup("--tpm", "%s socket" % ours, "--tpm2", "--create-ek-cert",
                 "--lock-nvram", "--tpmstate", work / "state",
                 xdg=work / "xdg"))
    srv = debian_swtpm(work)
    try:
        tpm2(srv, "tpm2_nvread", "-C", "o", "0x1c00002", "-o",
             work / "ek.der")
    finally:
        srv.stop()
    ok(verify(ca_bundle(work / "xdg"), work / "ek.der"))


def test_ext_reconfigure_after_our_crash_keeps_journaled_writes(work):
    """Our daemon keeps NV writes in permall's journal until a checkpoint;
    after a SIGKILL only the journal has them.  --reconfigure with
    Debian's swtpm (which knows no journal) folds it into the main file
    first, so the writes are still there for it and afterwards."""
    import struct
    import helpers_reliability as rh
    from helpers_socket import SwtpmServer
    from helpers_swtpm import OurSwtpm, rc_of

    index, data = 0x01500042, b"journaled-write!"
    ok(run_setup("--tpm2", "--createek", "--tpmstate", work / "state",
                 xdg=work / "xdg"))
    srv = OurSwtpm(work, running=False)
    try:
        r = srv.ctrl(2, struct.pack(">I", 0))     # CMD_INIT
        assert r[:4] == b"\0\0\0\0", r.hex()
        assert srv.startup() in (0, 0x100)
        assert rc_of(srv.tpm_cmd(rh.nv_define(index, len(data)))) == 0
        assert rc_of(srv.tpm_cmd(rh.nv_write(index, data))) == 0
    finally:
        srv.stop()                      # SIGKILL: the writes are journaled
    assert (work / "state" / "tpm2-00.permall.journal").is_file()
    ok(run_setup("--tpm", "/usr/bin/swtpm socket", "--tpm2", "--reconfigure",
                 "--pcr-banks", "sha384", "--tpmstate", work / "state",
                 xdg=work / "xdg"))
    for cls in (SwtpmServer, None):
        if cls:
            s = SwtpmServer(work, tpm2=True, transport="unix")
        else:
            s = OurSwtpm(work, transport="unix")
        try:
            assert s.startup() in (0, 0x100)
            resp = s.tpm_cmd(rh.nv_read(index, len(data)))
            assert rc_of(resp) == 0, resp.hex()
            assert rh.nv_read_data(resp) == data
        finally:
            s.stop()
