# SPDX-License-Identifier: BSD-3-Clause
"""TPM 2.0 on a CUSE device, driven by tpm2-tools (device TCTI)."""
import os
import select

import pytest

from helpers_cuse import (TPM2_GETRANDOM_8, TPM2_STARTUP_CLEAR, cuse_tpm,
                          rc_of, tpm2, tpm2_ok)

pytestmark = pytest.mark.cuse


def test_tpm2_tools_full_flow(tmp_path):
    with cuse_tpm(tmp_path) as t:
        with t.open() as d:
            assert d.init() == 0
        dev = t.dev
        tpm2_ok(["tpm2_startup", "-c"], dev)
        out = tpm2_ok(["tpm2_getrandom", "--hex", "16"], dev)
        assert len(out.strip()) == 32
        tpm2_ok(["tpm2_pcrextend", "16:sha256=" + "ab" * 32], dev)
        out = tpm2_ok(["tpm2_pcrread", "sha256:16"], dev).decode()
        # extend of zeros with 0xab..: the value is no longer all zero
        assert "0x" + "0" * 64 not in out.upper().replace("0X", "0x")
        ctx = str(tmp_path / "primary.ctx")
        tpm2_ok(["tpm2_createprimary", "-C", "o", "-G", "ecc", "-c", ctx],
                dev)
        pub, priv = str(tmp_path / "k.pub"), str(tmp_path / "k.priv")
        tpm2_ok(["tpm2_create", "-C", ctx, "-G", "ecc", "-u", pub, "-r",
                 priv], dev)
        tpm2_ok(["tpm2_flushcontext", "-t"], dev)
        kctx = str(tmp_path / "key.ctx")
        tpm2_ok(["tpm2_load", "-C", ctx, "-u", pub, "-r", priv, "-c", kctx],
                dev)
        tpm2_ok(["tpm2_flushcontext", "-t"], dev)
        data = tmp_path / "nv.bin"
        data.write_bytes(b"hello-cuse-nv-0123456789abcdef!!")
        tpm2_ok(["tpm2_nvdefine", "0x1500016", "-C", "o", "-s", "32", "-a",
                 "ownerread|ownerwrite"], dev)
        tpm2_ok(["tpm2_nvwrite", "0x1500016", "-C", "o", "-i", str(data)],
                dev)
        out = tpm2_ok(["tpm2_nvread", "0x1500016", "-C", "o", "-s", "32"],
                      dev)
        assert out == data.read_bytes()


def test_second_open_is_busy(tmp_path):
    with cuse_tpm(tmp_path) as t:
        with t.open():
            with pytest.raises(OSError) as e:
                os.open(t.dev, os.O_RDWR)
            assert e.value.errno == 16      # EBUSY
        # after close the device can be opened again
        with t.open() as d:
            assert d.caps() == 0x16FFF


def test_partial_reads_and_poll(tmp_path):
    with cuse_tpm(tmp_path) as t:
        with t.open() as d:
            assert d.init() == 0
            assert rc_of(d.cmd(TPM2_STARTUP_CLEAR)) == 0
            os.write(d.fd, TPM2_GETRANDOM_8)
            p = select.poll()
            p.register(d.fd, select.POLLIN)
            assert p.poll(5000), "poll() did not report the response"
            head = os.read(d.fd, 4)
            rest = os.read(d.fd, 100)
            resp = head + rest
            assert len(resp) == 20 and rc_of(resp) == 0
            assert os.read(d.fd, 100) == b""     # consumed


def test_commands_before_init_get_fatal_response(tmp_path):
    with cuse_tpm(tmp_path) as t:
        with t.open() as d:
            resp = d.cmd(TPM2_GETRANDOM_8)
            assert resp == bytes.fromhex("80010000000a00000101")


def test_short_and_oversized_commands(tmp_path):
    with cuse_tpm(tmp_path) as t:
        with t.open() as d:
            assert d.init() == 0
            assert rc_of(d.cmd(TPM2_STARTUP_CLEAR)) == 0
            # shorter than a header: swtpm's own TPM_RC_INSUFFICIENT
            assert d.cmd(b"\x80\x01\x00") == bytes.fromhex(
                "80010000000a0000009a")
            # more than 4096 bytes: truncated, answered with an error
            n = os.write(d.fd, b"\x80\x01" + b"\x00" * 6000)
            assert n == 4096
            assert rc_of(os.read(d.fd, 4096)) != 0
            # the daemon still serves
            assert rc_of(d.cmd(TPM2_GETRANDOM_8)) == 0
        assert t.alive()


def test_tpm2_tools_without_init_fails_clearly(tmp_path):
    with cuse_tpm(tmp_path) as t:
        p = tpm2(["tpm2_startup", "-c"], t.dev)
        assert p.returncode != 0
