# SPDX-License-Identifier: BSD-3-Clause
"""QEMU's passthrough TPM backend on a swtpm_cuse device, nested: inside
the tests/vm guest (which has CUSE) we start `swtpm_cuse --tpm2`, INIT it,
TPM2_Startup it and extend PCR 16, then boot a second TCG guest with
`-tpmdev passthrough,path=/dev/<name>` and tpm-tis.  QEMU probes the
device and then relays the guest's commands with plain write()/read().
That guest's kernel finds a TPM 2.0 at /dev/tpm0, reads our PCR 16, extends
it once more with a raw TPM2_PCR_Extend, and afterwards we read the result
from the device.

Nested TCG is slow (the bzImage's decompressor alone takes about a
minute), so the nested guest boots the vmlinux that tests/vm unpacked,
through PVH, like tests/vm itself (the bzImage if there is none).  PVH
leaves it without usable ACPI (the TPM's tables overlap the initramfs), so
the kernel runs with acpi=off and tpm_tis probes QEMU's TIS at its fixed
address (tpm_tis.force=1).  The firmware is qboot when QEMU has it: it
boots ~10 s sooner than SeaBIOS here and leaves the TPM alone.  (SeaBIOS's
own TPM2_Startup fails on the started TPM with TPM_RC_INITIALIZE, so it
measures nothing and tries to disable the owner and endorsement
hierarchies.  Without our TPM2_Startup it starts and measures the TPM itself, but QEMU
then reports `tpm_util: Got unexpected response to TPM2_GetCapability;
errcode: 0x100` while sizing its buffer and falls back to 4096 bytes.)"""
import hashlib
import pathlib
import re
import subprocess
import time

import pytest

from helpers_cuse import cuse_tpm, tpm2_ok
from helpers_qemu import (EXTEND_OK, INIT_HEAD, QEMU, RAW_CMD_FN,
                          busybox_initrd, kernel,  # noqa: F401
                          pcr_extend_cmd)

pytestmark = pytest.mark.cuse

QBOOT = "/usr/share/qemu/qboot.rom"

# Bounded but generous: the nested boot takes 60-100 s on this machine.
NESTED_TIMEOUT = 240

D1 = hashlib.sha256(b"outer").digest()
D2 = hashlib.sha256(b"nested").digest()

APPEND = ("console=ttyS0 panic=-1 quiet loglevel=3 acpi=off "
          "tpm_tis.force=1 tpm_tis.interrupts=0 mitigations=off "
          "random.trust_cpu=on tsc=reliable no_timer_check 8250.nr_uarts=1 "
          "cryptomgr.notests")

GUEST_INIT = INIT_HEAD + RAW_CMD_FN + """
P=/sys/class/tpm/tpm0
if [ -e /dev/tpm0 ]; then echo "GUEST: TPM0=present"; fi
echo "GUEST: VERSION=$(cat $P/tpm_version_major)"
echo "GUEST: DRIVER=$(basename "$(readlink $P/device/driver)")"
echo "GUEST: PCR16=$(cat $P/pcr-sha256/16)"
tpm_raw /extend.bin EXTEND
echo "GUEST: PCR16=$(cat $P/pcr-sha256/16)"
echo "GUEST: done"
reboot -f
"""


def test_qemu_passthrough_on_cuse_device(tmp_path, kernel):
    vmlinux = pathlib.Path(kernel).parents[1] / "vmlinux"
    if not vmlinux.is_file():
        vmlinux = kernel
    initrd = busybox_initrd(tmp_path / "initrd.cpio", GUEST_INIT,
                            files=[("extend.bin", pcr_extend_cmd(16, D2))])
    pcr16_1 = hashlib.sha256(bytes(32) + D1).digest()
    pcr16_2 = hashlib.sha256(pcr16_1 + D2).digest()
    with cuse_tpm(tmp_path) as t:
        with t.open() as d:
            assert d.init() == 0
        tpm2_ok(["tpm2_startup", "-c"], t.dev)
        tpm2_ok(["tpm2_pcrextend", "16:sha256=" + D1.hex()], t.dev)
        argv = [QEMU, "-M", "pc", "-accel", "tcg", "-smp", "1", "-m", "256",
                "-nographic", "-no-reboot", "-nodefaults", "-no-user-config",
                "-serial", "stdio",
                "-kernel", str(vmlinux), "-initrd", str(initrd),
                "-append", APPEND,
                "-tpmdev", "passthrough,id=tpm0,path=%s,cancel-path=/dev/null"
                % t.dev,
                "-device", "tpm-tis,tpmdev=tpm0"]
        if pathlib.Path(QBOOT).is_file():
            argv += ["-bios", QBOOT]
        outpath = tmp_path / "nested.out"
        t0 = time.monotonic()
        with open(outpath, "wb") as outf:
            p = subprocess.Popen(argv, stdout=outf, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL)
            try:
                rc = p.wait(timeout=NESTED_TIMEOUT)
            except subprocess.TimeoutExpired:
                p.kill()
                rc = "timeout (%d s)" % NESTED_TIMEOUT
                p.wait()
        out = outpath.read_bytes().decode(errors="replace").replace("\r", "")
        msg = "%s\nexit %s after %.0f s\n%s\n%s" % (
            argv, rc, time.monotonic() - t0, out, t.read_log())
        assert rc == 0, msg
        assert "GUEST: done" in out, msg
        assert "GUEST: TPM0=present" in out, msg
        assert "GUEST: VERSION=2\n" in out, msg
        assert "GUEST: DRIVER=tpm_tis\n" in out, msg
        # QEMU probed and relayed without complaint.
        assert "qemu-system-x86_64:" not in out, msg
        pcrs = re.findall(r"^GUEST: PCR16=([0-9A-F]{64})$", out, re.M)
        assert pcrs == [pcr16_1.hex().upper(), pcr16_2.hex().upper()], msg
        assert "GUEST: EXTEND=%s\n" % EXTEND_OK in out, msg
        # QEMU has closed the device; the nested guest's extend is there.
        pcr = tpm2_ok(["tpm2_pcrread", "sha256:16"], t.dev).decode()
        assert "0x" + pcr16_2.hex().upper() in pcr, (pcr, msg)
