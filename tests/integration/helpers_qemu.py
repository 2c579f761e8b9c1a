# SPDX-License-Identifier: BSD-3-Clause
"""Shared pieces of the QEMU tests: the guest kernel (Debian's bzImage from
the tests/vm cache), a tiny busybox initramfs written in Python, and our
`swtpm socket` started with only a Unix control channel, as QEMU's
`-tpmdev emulator` backend wants it.

Every QEMU here runs under TCG with one vCPU (KVM guests hang on these
machines) and boots the compressed bzImage, so the guest has ACPI and
finds the TPM the firmware describes."""
import glob
import io
import re
import shutil
import subprocess
import time

import pytest

from conftest import ROOT, tool

QEMU = shutil.which("qemu-system-x86_64")
RUN_IN_VM = str(ROOT / "tests/vm/run-in-vm")

# Lines our daemons must never print.
BAD_LOG = ("AddressSanitizer", "runtime error:", "LeakSanitizer",
           "stack smashing", "Segmentation fault")


def cached_kernels():
    return sorted(glob.glob(str(ROOT / "tests/vm/cache/linux-image-*"
                                "/boot/vmlinuz-*")))


@pytest.fixture(scope="session")
def kernel():
    """Debian's bzImage from the tests/vm cache, fetched on first use (a
    fresh CI machine runs the host tests before any VM test)."""
    if not cached_kernels():
        subprocess.run([RUN_IN_VM, "--", "true"], check=True, timeout=600)
    kernels = cached_kernels()
    assert QEMU, "qemu-system-x86_64 is missing (ci/install-deps)"
    assert kernels, "tests/vm/run-in-vm did not cache a kernel"
    return kernels[-1]


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


def busybox_initrd(path, init, files=()):
    """Write a busybox initramfs to `path` whose /init is the shell script
    `init`; `files` adds (name, bytes) regular files at the root."""
    with open("/bin/busybox", "rb") as f:
        bb = f.read()
    entries = [("bin", 0o40755, b""), ("proc", 0o40755, b""),
               ("sys", 0o40755, b""), ("dev", 0o40755, b""),
               ("bin/busybox", 0o100755, bb),
               ("init", 0o100755, init.encode())]
    entries += [(name, 0o100644, data) for name, data in files]
    path.write_bytes(newc(entries))
    return path


# The start of every guest /init: busybox applets, /proc, /sys, /dev, and
# up to 10 s for the kernel to bind its TPM driver.
INIT_HEAD = """#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
i=0
while [ ! -e /dev/tpm0 ] && [ $i -lt 50 ]; do sleep 0.2; i=$((i+1)); done
"""

# The kernel's command line for those guests; the second line saves time
# under TCG (as in tests/vm/run-in-vm).  ACPI still describes the TPM.
APPEND = ("console=ttyS0 panic=-1 quiet loglevel=3 "
          "mitigations=off random.trust_cpu=on tsc=reliable no_timer_check "
          "8250.nr_uarts=1 pci=noacpi cryptomgr.notests")


def pcr_extend_cmd(pcr, digest):
    """A raw TPM2_PCR_Extend of one sha256 `digest` (32 bytes) into `pcr`
    with an empty password session."""
    assert len(digest) == 32
    body = (bytes.fromhex("00000182") + pcr.to_bytes(4, "big") +
            bytes.fromhex("00000009" "40000009" "0000" "00" "0000"
                          "00000001" "000b") + digest)
    return bytes.fromhex("8002") + (6 + len(body)).to_bytes(4, "big") + body


# Guest shell: send the command in file $1 to /dev/tpm0 and print the
# response in hex after "GUEST: $2=".
RAW_CMD_FN = """
tpm_raw() {
    exec 3<>/dev/tpm0
    cat "$1" >&3
    echo "GUEST: $2=$(dd bs=4096 count=1 <&3 2>/dev/null | od -An -tx1 | tr -d ' \\n')"
    exec 3>&-
}
"""
# The response to a successful PCR_Extend: TPM_ST_SESSIONS, 19 bytes,
# TPM_RC_SUCCESS, no parameters, an empty session.
EXTEND_OK = "80020000001300000000000000000000010000"


def qemu_argv(kernel, initrd, ctrl, device="tpm-tis", extra=()):
    """QEMU with a TPM device backed by `swtpm socket` on control socket
    `ctrl`; the guest's serial console is QEMU's stdio."""
    return [QEMU, "-M", "pc", "-accel", "tcg", "-smp", "1", "-m", "256",
            "-nographic", "-no-reboot", "-nodefaults", "-no-user-config",
            "-serial", "stdio",
            "-kernel", kernel, "-initrd", str(initrd),
            "-append", APPEND,
            "-chardev", "socket,id=chrtpm,path=%s" % ctrl,
            "-tpmdev", "emulator,id=tpm0,chardev=chrtpm",
            "-device", "%s,tpmdev=tpm0" % device] + list(extra)


class Swtpm:
    """Our `swtpm socket --tpm2` with only a Unix control channel (QEMU
    hands it the data channel with SET_DATAFD); `terminate` makes it exit
    when QEMU closes the control connection."""

    def __init__(self, workdir, name="swtpm", tpmstate=None, extra=()):
        """tpmstate: another --tpmstate value (a shared directory, a
        file:// URI); extra: more options (--migration ...)."""
        self.state = workdir / ("%s-state" % name)
        if tpmstate is None:
            self.state.mkdir()
            tpmstate = "dir=%s" % self.state
        self.ctrl = workdir / ("%s-ctrl.sock" % name)
        self.logpath = workdir / ("%s.log" % name)
        self.argv = [tool("swtpm"), "socket", "--tpm2",
                     "--tpmstate", tpmstate,
                     "--ctrl", "type=unixio,path=%s,terminate" % self.ctrl,
                     "--log", "fd=2,level=2"] + list(extra)
        self._log = open(self.logpath, "wb")
        self.proc = subprocess.Popen(self.argv, stderr=self._log,
                                     stdin=subprocess.DEVNULL)
        for _ in range(200):
            if self.ctrl.exists() or self.proc.poll() is not None:
                break
            time.sleep(0.05)
        assert self.ctrl.exists(), "%s\n%s" % (self.argv, self.log())

    def log(self):
        if not self._log.closed:
            self._log.flush()
        return self.logpath.read_text(errors="replace")

    def wait(self, timeout=20):
        return self.proc.wait(timeout=timeout)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._log.close()

    def check_log(self):
        log = self.log()
        for bad in BAD_LOG:
            assert bad not in log, log


PCR0_INIT = INIT_HEAD + """
if [ -e /dev/tpm0 ]; then echo "GUEST: TPM0=present"; fi
echo "GUEST: VERSION=$(cat /sys/class/tpm/tpm0/tpm_version_major)"
echo "GUEST: DRIVER=$(basename "$(readlink /sys/class/tpm/tpm0/device/driver)")"
echo "GUEST: PCR0=$(cat /sys/class/tpm/tpm0/pcr-sha256/0)"
echo "GUEST: done"
poweroff -f
"""


def run_guest(tmp_path, kernel, device, driver):
    """Boot the guest with `device` (tpm-tis or tpm-crb) backed by our
    swtpm socket and check what it reports: the kernel bound `driver`."""
    initrd = busybox_initrd(tmp_path / "initrd.cpio", PCR0_INIT)
    swtpm = Swtpm(tmp_path)
    try:
        argv = qemu_argv(kernel, initrd, swtpm.ctrl, device=device)
        p = subprocess.run(argv, capture_output=True, timeout=300,
                           stdin=subprocess.DEVNULL)
        out = p.stdout.decode(errors="replace")
        assert "GUEST: done" in out, "%s\n%s\n%s\n%s" % (
            argv, out, p.stderr.decode(), swtpm.log())
        assert "GUEST: TPM0=present" in out, out
        assert "GUEST: VERSION=2" in out, out
        assert "GUEST: DRIVER=%s\n" % driver in out.replace("\r", ""), out
        m = re.search(r"GUEST: PCR0=([0-9A-Fa-f]+)", out)
        assert m, out
        assert int(m.group(1), 16) != 0, out
        # QEMU closed the control channel: terminate ends the emulator.
        assert swtpm.wait(timeout=20) == 0, swtpm.log()
    finally:
        swtpm.stop()
    swtpm.check_log()
