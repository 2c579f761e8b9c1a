# SPDX-License-Identifier: BSD-3-Clause
"""swtpm_bios against swtpm_cuse devices (in the VM): what each flag makes
the TPM report, the exit codes of docs/cli.md §8, and TrouSerS/tpm2-tools on a
TPM that swtpm_bios brought up."""
import os
import subprocess

import pytest

from conftest import tool
from helpers_cuse import (TPM12_GETRANDOM_8, TPM2_GETRANDOM_8, cuse_tpm,
                          rc_of, tpm2, tpm2_ok)
from test_cuse_tpm12 import SCRIPT as TROUSERS_SCRIPT

pytestmark = pytest.mark.cuse

GETCAP_PERMANENT = bytes.fromhex("00c10000001600000065000000040000000400"
                                 "000108")
TPM_INVALID_POSTINIT = 0x26


def bios(args, dev):
    return subprocess.run([tool("swtpm_bios"), "--tpm-device", dev] + args,
                          capture_output=True, text=True, timeout=120)


def init(t):
    with t.open() as d:
        assert d.init() == 0


def permanent_flags(t):
    """(disable, ownership, deactivated) of a TPM 1.2."""
    with t.open() as d:
        r = d.cmd(GETCAP_PERMANENT)
    assert rc_of(r) == 0
    return r[16], r[17], r[18]


def make_tpm12(t, disable=False, deactivate=False):
    """Put a fresh TPM 1.2 (libtpms starts it enabled and activated) into
    the disabled and/or deactivated state, then reset it."""
    cmds = [bytes.fromhex("00c10000000c000000990001"),     # Startup clear
            bytes.fromhex("00c10000000c4000000a0020"),     # PP cmd enable
            bytes.fromhex("00c10000000c4000000a0008")]     # PP present
    if deactivate:
        cmds.append(bytes.fromhex("00c10000000b0000007201"))
    if disable:
        cmds.append(bytes.fromhex("00c10000000a00000070"))
    with t.open() as d:
        assert d.init() == 0
        for c in cmds:
            assert rc_of(d.cmd(c)) == 0, c.hex()
        assert d.init() == 0


def test_tpm2_default_sequence_and_repeat(tmp_path):
    with cuse_tpm(tmp_path) as t:
        init(t)
        p = bios(["--tpm2"], t.dev)
        assert p.returncode == 0, p.stderr + p.stdout
        tpm2_ok(["tpm2_getrandom", "8"], t.dev)      # started
        p = bios(["--tpm2"], t.dev)
        assert p.returncode == 128
        assert "TPM2_Startup returned error code 0x00000100" in \
            p.stdout + p.stderr


def test_tpm2_flags(tmp_path):
    with cuse_tpm(tmp_path) as t:
        init(t)
        assert bios(["--tpm2", "-n"], t.dev).returncode == 0
        with t.open() as d:      # -n: still not started
            assert rc_of(d.cmd(TPM2_GETRANDOM_8)) == 0x100
        p = bios(["--tpm2", "-cs", "-u"], t.dev)
        assert p.returncode == 0, p.stdout + p.stderr
        # -u gave the platform hierarchy a random password
        assert tpm2(["tpm2_clear", "-c", "p"], t.dev).returncode != 0
        init(t)
        assert bios(["--tpm2", "-s"], t.dev).returncode in (0, 128)


def test_tpm12_activation_needs_a_reset(tmp_path):
    with cuse_tpm(tmp_path, tpm2=False) as t:
        make_tpm12(t, deactivate=True)
        p = bios(["-ea"], t.dev)
        assert p.returncode == 129, p.stdout + p.stderr
        assert "TPM requires a reset" in p.stdout
        init(t)
        p = bios([], t.dev)
        assert p.returncode == 0, p.stdout + p.stderr
        disable, ownership, deactivated = permanent_flags(t)
        assert (disable, deactivated) == (0, 0)
        with t.open() as d:
            assert rc_of(d.cmd(TPM12_GETRANDOM_8)) == 0
        # an active TPM: -ea has nothing to do
        init(t)
        assert bios(["-ea"], t.dev).returncode == 0
        # a second Startup is an error: 128, the sequence goes on
        assert bios([], t.dev).returncode == 128


def test_tpm12_no_startup(tmp_path):
    with cuse_tpm(tmp_path, tpm2=False) as t:
        init(t)
        # -n: no Startup, so the follow-ups fail: 128, all reported
        p = bios(["-n"], t.dev)
        assert p.returncode == 128
        assert "TPM_PhysicalEnable returned error code 0x00000026" in \
            p.stdout + p.stderr
        with t.open() as d:
            assert rc_of(d.cmd(TPM12_GETRANDOM_8)) == TPM_INVALID_POSTINIT


@pytest.mark.parametrize("flag,disabled", [("-o", 1), ("-c", 0), ("-s", 0)])
def test_tpm12_enable_flags(tmp_path, flag, disabled):
    """-o starts a disabled TPM without enabling it; -c and -s enable."""
    with cuse_tpm(tmp_path, tpm2=False) as t:
        make_tpm12(t, disable=True)
        p = bios([flag], t.dev)
        assert p.returncode in ((0, 128) if flag == "-s" else (0,)), \
            p.stdout + p.stderr
        if flag == "-s":        # nothing saved: Startup(STATE) fails
            init(t)
            assert bios(["-c"], t.dev).returncode == 0
        assert permanent_flags(t)[0] == disabled


def test_tpm12_deactivated_startup(tmp_path):
    with cuse_tpm(tmp_path, tpm2=False) as t:
        init(t)
        assert bios(["-d"], t.dev).returncode == 0
        with t.open() as d:      # TPM_Startup(ST_DEACTIVATED), nothing more
            assert rc_of(d.cmd(TPM12_GETRANDOM_8)) == 0x6


def test_tpm12_trousers_after_bios(tmp_path):
    made = not os.path.exists("/dev/tpm0")
    if made:
        open("/dev/tpm0", "w").close()
    try:
        with cuse_tpm(tmp_path, tpm2=False) as t:
            init(t)
            bios([], t.dev)
            init(t)                             # reset to activate
            assert bios([], t.dev).returncode == 0
            env = dict(os.environ, DEV=t.dev, WORK=str(tmp_path))
            p = subprocess.run(["unshare", "-m", "sh", "-c",
                                TROUSERS_SCRIPT], env=env,
                               capture_output=True, text=True,
                               errors="replace", timeout=300)
            assert p.returncode == 0, p.stdout + p.stderr
            assert "Public Endorsement Key:" in p.stdout
    finally:
        if made:
            os.unlink("/dev/tpm0")


def test_bios_errors(tmp_path):
    p = bios(["--tpm2"], "/dev/no-such-vtpm")
    assert p.returncode == 255 and "/dev/no-such-vtpm" in p.stdout + p.stderr
    p = bios(["--tpm2"], "/dev/zero")            # answers garbage
    assert p.returncode == 255
    p = bios(["--bogus"], "/dev/zero")
    assert p.returncode == 1
    with cuse_tpm(tmp_path) as t:
        # not initialised: swtpm's fatal response is a TPM error (128)
        p = bios(["--tpm2"], t.dev)
        assert p.returncode == 128
