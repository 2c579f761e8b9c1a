# SPDX-License-Identifier: BSD-3-Clause
"""QEMU end to end: a TCG guest with `-tpmdev emulator` talks to our
`swtpm socket --ctrl type=unixio,...` (QEMU's own control protocol,
SET_DATAFD with a socketpair, raw TPM commands on the data fd).  The guest boots
the Debian bzImage cached by tests/vm and a tiny busybox initramfs that
reports whether /dev/tpm0 exists and what PCR 0 holds (SeaBIOS measures
itself into it)."""
import glob
import io
import os
import re
import shutil
import subprocess
import time

import pytest

from conftest import ROOT, tool

pytestmark = pytest.mark.qemu

QEMU = shutil.which("qemu-system-x86_64")


def cached_kernels():
    return sorted(glob.glob(str(ROOT / "tests/vm/cache/linux-image-*"
                                "/boot/vmlinuz-*")))


@pytest.fixture(scope="session")
def kernel():
    """Debian's bzImage from the tests/vm cache, fetched on first use (a
    fresh CI machine runs the host tests before any VM test)."""
    if not cached_kernels():
        subprocess.run([str(ROOT / "tests/vm/run-in-vm"), "--", "true"],
                       check=True, timeout=600)
    kernels = cached_kernels()
    assert QEMU, "qemu-system-x86_64 is missing (ci/install-deps)"
    assert kernels, "tests/vm/run-in-vm did not cache a kernel"
    return kernels[-1]

GUEST_INIT = """#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
i=0
while [ ! -e /dev/tpm0 ] && [ $i -lt 50 ]; do sleep 0.2; i=$((i+1)); done
if [ -e /dev/tpm0 ]; then echo "GUEST: TPM0=present"; fi
echo "GUEST: VERSION=$(cat /sys/class/tpm/tpm0/tpm_version_major)"
echo "GUEST: PCR0=$(cat /sys/class/tpm/tpm0/pcr-sha256/0)"
echo "GUEST: done"
poweroff -f
"""


def newc(entries):
    """A cpio archive (newc) of (name, mode, data) entries."""
    out = io.BytesIO()
    ino = 1
    for name, mode, data in entries + [("TRAILER!!!", 0, b"")]:
        nb = name.encode() + b"\0"
        hdr = "070701" + "".join("%08X" % v for v in (
            ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(nb), 0))
        out.write(hdr.encode() + nb)
        out.write(b"\0" * (-(110 + len(nb)) % 4))
        out.write(data)
        out.write(b"\0" * (-len(data) % 4))
        ino += 1
    return out.getvalue()


def test_qemu_guest_sees_tpm_and_pcr0(tmp_path, kernel):
    with open("/bin/busybox", "rb") as f:
        bb = f.read()
    initrd = tmp_path / "initrd.cpio"
    initrd.write_bytes(newc([
        ("bin", 0o40755, b""), ("proc", 0o40755, b""),
        ("sys", 0o40755, b""), ("dev", 0o40755, b""),
        ("bin/busybox", 0o100755, bb),
        ("init", 0o100755, GUEST_INIT.encode()),
    ]))
    state = tmp_path / "state"
    state.mkdir()
    ctrl = tmp_path / "ctrl.sock"
    errf = open(tmp_path / "swtpm.log", "wb")
    swtpm = subprocess.Popen(
        [tool("swtpm"), "socket", "--tpm2", "--tpmstate", "dir=%s" % state,
         "--ctrl", "type=unixio,path=%s,terminate" % ctrl,
         "--log", "fd=2,level=2"], stderr=errf)
    try:
        for _ in range(200):
            if ctrl.exists() or swtpm.poll() is not None:
                break
            time.sleep(0.05)
        assert ctrl.exists(), (tmp_path / "swtpm.log").read_text()
        argv = [QEMU, "-M", "pc", "-accel", "tcg", "-m", "256",
                "-nographic", "-no-reboot", "-nodefaults",
                "-serial", "stdio",
                "-kernel", kernel, "-initrd", str(initrd),
                "-append", "console=ttyS0 panic=-1 quiet loglevel=3",
                "-chardev", "socket,id=chrtpm,path=%s" % ctrl,
                "-tpmdev", "emulator,id=tpm0,chardev=chrtpm",
                "-device", "tpm-tis,tpmdev=tpm0"]
        p = subprocess.run(argv, capture_output=True, timeout=300,
                           stdin=subprocess.DEVNULL)
        out = p.stdout.decode(errors="replace")
        assert "GUEST: done" in out, "%s\n%s\n%s" % (argv, out,
                                                     p.stderr.decode())
        assert "GUEST: TPM0=present" in out, out
        assert "GUEST: VERSION=2" in out, out
        m = re.search(r"GUEST: PCR0=([0-9A-Fa-f]+)", out)
        assert m, out
        assert int(m.group(1), 16) != 0, out
        # QEMU closed the control channel: terminate ends the emulator.
        assert swtpm.wait(timeout=20) == 0
    finally:
        if swtpm.poll() is None:
            swtpm.kill()
            swtpm.wait()
        errf.close()
    log = (tmp_path / "swtpm.log").read_text()
    assert "AddressSanitizer" not in log
