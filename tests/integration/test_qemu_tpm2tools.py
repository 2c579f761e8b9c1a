# SPDX-License-Identifier: BSD-3-Clause
"""tpm2-tools inside a QEMU guest whose tpm-tis device is backed by our
`swtpm socket`: the tests/vm guest (the host root over 9p, so the host's
tpm2-tools) runs getrandom, pcrread, pcrextend and createprimary on the
kernel's /dev/tpm0 and on its resource manager /dev/tpmrm0 (which context-
saves and reloads objects between commands)."""
import hashlib
import re
import subprocess

import pytest

from helpers_qemu import RUN_IN_VM, Swtpm, kernel  # noqa: F401

pytestmark = pytest.mark.qemu

D1 = "11" * 32
D2 = "22" * 32

GUEST = r"""
set -e
ls /dev/tpm0 /dev/tpmrm0
for d in /dev/tpm0 /dev/tpmrm0; do
    t=device:$d
    echo "GUEST: $d RANDOM=$(tpm2_getrandom -T $t --hex 16)"
    echo "GUEST: $d PCR0=$(tpm2_pcrread -T $t sha256:0 | awk '/0 :/{print $3}')"
    tpm2_pcrextend -T $t 16:sha256=$1
    echo "GUEST: $d PCR16=$(tpm2_pcrread -T $t sha256:16 | awk '/16:/{print $2}')"
    shift
done
cd /tmp
tpm2_createprimary -T device:/dev/tpmrm0 -Q -C o -G ecc -c prim.ctx
tpm2_readpublic -T device:/dev/tpmrm0 -c prim.ctx > pub.txt
echo "GUEST: PRIMARY=$(awk '/^type:/{getline; print $2; exit}' pub.txt)"
echo "GUEST: done"
"""


def pcr_extend(old, digest_hex):
    return hashlib.sha256(old + bytes.fromhex(digest_hex)).digest()


def test_qemu_guest_tpm2_tools(tmp_path, kernel):
    swtpm = Swtpm(tmp_path)
    try:
        argv = [RUN_IN_VM, "--timeout", "240"]
        for a in ("-chardev", "socket,id=chrtpm,path=%s" % swtpm.ctrl,
                  "-tpmdev", "emulator,id=tpm0,chardev=chrtpm",
                  "-device", "tpm-tis,tpmdev=tpm0"):
            argv += ["--qemu-arg", a]
        argv += ["--", "sh", "-c", GUEST, "guest", D1, D2]
        p = subprocess.run(argv, capture_output=True, timeout=300,
                           stdin=subprocess.DEVNULL)
        out = p.stdout.decode(errors="replace").replace("\r", "")
        msg = "%s\n%s\n%s\n%s" % (argv, out, p.stderr.decode(errors="replace"),
                                  swtpm.log())
        assert p.returncode == 0, msg
        assert "GUEST: done" in out, msg
        pcr16 = bytes(32)
        pcr0 = set()
        for dev, digest in (("/dev/tpm0", D1), ("/dev/tpmrm0", D2)):
            m = re.search(r"GUEST: %s RANDOM=([0-9a-f]{32})$" % dev, out,
                          re.M)
            assert m, msg
            m = re.search(r"GUEST: %s PCR0=0x([0-9A-F]{64})$" % dev, out,
                          re.M)
            assert m, msg
            pcr0.add(m.group(1))
            pcr16 = pcr_extend(pcr16, digest)
            assert ("GUEST: %s PCR16=0x%s\n" % (dev, pcr16.hex().upper())
                    in out), msg
        # SeaBIOS measured into PCR 0; both paths read the same value.
        assert len(pcr0) == 1 and int(pcr0.pop(), 16) != 0, msg
        assert "GUEST: PRIMARY=ecc\n" in out, msg
        # QEMU closed the control channel: terminate ends the emulator.
        assert swtpm.wait(timeout=20) == 0, swtpm.log()
    finally:
        swtpm.stop()
    swtpm.check_log()
