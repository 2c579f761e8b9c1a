# SPDX-License-Identifier: BSD-3-Clause
"""TPM 1.2 on a CUSE device with TrouSerS: tcsd on the device (bind-
mounted as /dev/tpm0 in a private mount namespace) and tpm-tools, as in
the seed's guest example."""
import os
import subprocess
import textwrap

import pytest

from helpers_cuse import TPM12_GETRANDOM_8, cuse_tpm, rc_of

pytestmark = pytest.mark.cuse

STARTUP_CLEAR = bytes.fromhex("00c10000000c000000990001")
PP_CMD_ENABLE = bytes.fromhex("00c10000000c4000000a0020")
PP_PRESENT = bytes.fromhex("00c10000000c4000000a0008")
PHYS_ENABLE = bytes.fromhex("00c10000000a0000006f")
PHYS_SET_ACTIVATED = bytes.fromhex("00c10000000b0000007200")


def bios_enable(t):
    """What a BIOS does for a fresh TPM 1.2: enable and activate it, then
    reset so activation takes effect."""
    with t.open() as d:
        assert d.init() == 0
        for cmd in (STARTUP_CLEAR, PP_CMD_ENABLE, PP_PRESENT, PHYS_ENABLE,
                    PHYS_SET_ACTIVATED):
            assert rc_of(d.cmd(cmd)) == 0, cmd.hex()
        assert d.init() == 0
        assert rc_of(d.cmd(STARTUP_CLEAR)) == 0
        assert rc_of(d.cmd(TPM12_GETRANDOM_8)) == 0


SCRIPT = textwrap.dedent("""\
    set -e
    mount --bind "$DEV" /dev/tpm0
    chown tss /dev/tpm0
    mount -t tmpfs tmpfs /var/lib/tpm
    chown tss:tss /var/lib/tpm
    tcsd -f >"$WORK/tcsd.log" 2>&1 &
    tcsd=$!
    trap 'kill $tcsd; wait $tcsd 2>/dev/null || true' EXIT
    for i in $(seq 100); do
        tpm_version >/dev/null 2>&1 && break
        sleep 0.1
    done
    echo "== tpm_version"; tpm_version
    echo "== tpm_createek"; tpm_createek
    echo "== tpm_takeownership"; tpm_takeownership -y -z
    echo "== tpm_getpubek"; tpm_getpubek -z
    echo "== done"
    """)


def test_trousers_flow(tmp_path):
    made_target = not os.path.exists("/dev/tpm0")
    if made_target:
        open("/dev/tpm0", "w").close()      # bind-mount target
    try:
        run_trousers_flow(tmp_path)
    finally:
        if made_target:
            os.unlink("/dev/tpm0")  # a later vtpm-proxy device needs it


def run_trousers_flow(tmp_path):
    with cuse_tpm(tmp_path, tpm2=False) as t:
        bios_enable(t)
        env = dict(os.environ, DEV=t.dev, WORK=str(tmp_path))
        p = subprocess.run(["unshare", "-m", "sh", "-c", SCRIPT], env=env,
                           capture_output=True, text=True, errors="replace",
                           timeout=300)
        tcsd_log = (tmp_path / "tcsd.log").read_text() \
            if (tmp_path / "tcsd.log").exists() else ""
        assert p.returncode == 0, "%s\n%s\ntcsd: %s" % (p.stdout, p.stderr,
                                                        tcsd_log)
        assert "Chip Version:" in p.stdout and "1.2" in p.stdout
        assert "Public Endorsement Key:" in p.stdout
        assert "== done" in p.stdout
        # the owner is persistent: a restart keeps it
        assert os.path.getsize(os.path.join(t.state, "tpm-00.permall")) > 0
