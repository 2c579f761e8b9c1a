# SPDX-License-Identifier: BSD-3-Clause
"""QEMU migration to a file and back with the TPM state carried by QEMU
itself: the source QEMU fetches the emulator's permanent, volatile and
savestate blobs from our `swtpm socket` (GET_STATEBLOB) into the migration
stream, and the destination QEMU pushes them into a second, fresh `swtpm
socket` (STOP, SET_STATEBLOB, INIT with resume).

The guest (busybox initramfs) extends PCR 16 with a raw TPM2_PCR_Extend on
/dev/tpm0, then prints PCR 0 and PCR 16 (read by the kernel from the TPM)
once a second.  The test migrates it to a file over QMP
(`migrate exec:cat > FILE`), quits, starts a new emulator with an empty
state directory and `qemu -incoming "exec:cat FILE"`, and checks that the
guest, running on, reads the same PCRs from the new emulator."""
import hashlib
import json
import re
import socket
import subprocess
import time

import pytest

from helpers_qemu import (EXTEND_OK, INIT_HEAD, RAW_CMD_FN, Swtpm,
                          busybox_initrd, kernel, pcr_extend_cmd,  # noqa: F401
                          qemu_argv)

pytestmark = pytest.mark.qemu

DIGEST = bytes(range(32))

GUEST_INIT = INIT_HEAD + RAW_CMD_FN + """
tpm_raw /extend.bin EXTEND
P=/sys/class/tpm/tpm0/pcr-sha256
echo "GUEST: READY PCR0=$(cat $P/0) PCR16=$(cat $P/16)"
n=0
while [ $n -lt 600 ]; do
    n=$((n+1))
    echo "GUEST: TICK $n PCR0=$(cat $P/0) PCR16=$(cat $P/16)"
    sleep 1
done
poweroff -f
"""

TIMEOUT = 120


class Qmp:
    """A minimal QMP client on a Unix socket."""

    def __init__(self, path, timeout=TIMEOUT):
        deadline = time.monotonic() + 30
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX)
                self.sock.settimeout(timeout)
                self.sock.connect(str(path))
                break
            except (FileNotFoundError, ConnectionRefusedError):
                self.sock.close()
                assert time.monotonic() < deadline, "no QMP socket %s" % path
                time.sleep(0.1)
        self.f = self.sock.makefile("rb")
        assert "QMP" in self._read()
        self.cmd("qmp_capabilities")

    def _read(self):
        line = self.f.readline()
        assert line, "QMP connection closed"
        return json.loads(line)

    def cmd(self, name, **args):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            r = self._read()
            if "event" in r:
                continue
            assert "error" not in r, (name, r)
            return r["return"]

    def close(self):
        self.f.close()
        self.sock.close()


class Guest:
    """A QEMU process whose serial console goes to a file."""

    def __init__(self, argv, outpath):
        self.argv = argv
        self.outpath = outpath
        self.out = open(outpath, "wb")
        self.proc = subprocess.Popen(argv, stdout=self.out,
                                     stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)

    def text(self):
        return self.outpath.read_bytes().decode(errors="replace").replace(
            "\r", "")

    def wait_for(self, pattern, what, extra=""):
        deadline = time.monotonic() + TIMEOUT
        while True:
            m = re.search(pattern, self.text(), re.M)
            if m:
                return m
            assert self.proc.poll() is None and time.monotonic() < deadline, \
                "no %s from the guest\n%s\n%s\n%s" % (
                    what, self.argv, self.text(), extra)
            time.sleep(0.2)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.out.close()


def test_qemu_migration_to_file_and_back(tmp_path, kernel):
    initrd = busybox_initrd(tmp_path / "initrd.cpio", GUEST_INIT,
                            files=[("extend.bin", pcr_extend_cmd(16, DIGEST))])
    image = tmp_path / "migration.img"
    expect16 = hashlib.sha256(bytes(32) + DIGEST).hexdigest().upper()
    pcrs = r"PCR0=([0-9A-F]{64}) PCR16=([0-9A-F]{64})$"

    # Source: boot, extend PCR 16, migrate to a file, quit.
    src = Swtpm(tmp_path, "src")
    qmp_path = tmp_path / "qmp-src.sock"
    guest = Guest(qemu_argv(kernel, initrd, src.ctrl, extra=[
        "-qmp", "unix:%s,server=on,wait=off" % qmp_path]),
        tmp_path / "src.out")
    try:
        m = guest.wait_for(r"^GUEST: READY " + pcrs, "READY", src.log())
        pcr0, pcr16 = m.groups()
        assert int(pcr0, 16) != 0, guest.text()
        assert pcr16 == expect16, guest.text()
        assert "GUEST: EXTEND=%s\n" % EXTEND_OK in guest.text()
        guest.wait_for(r"^GUEST: TICK 1 ", "a tick")
        qmp = Qmp(qmp_path)
        qmp.cmd("migrate", uri="exec:cat > %s" % image)
        deadline = time.monotonic() + TIMEOUT
        while True:
            status = qmp.cmd("query-migrate").get("status")
            if status == "completed":
                break
            assert status in ("setup", "active", "device",
                              "pre-switchover") and \
                time.monotonic() < deadline, \
                "migration %s\n%s\n%s" % (status, guest.text(), src.log())
            time.sleep(0.2)
        assert qmp.cmd("query-status")["status"] == "postmigrate"
        qmp.cmd("quit")
        qmp.close()
        assert guest.proc.wait(timeout=30) == 0, guest.text()
        # QEMU closed the control channel: terminate ends the emulator.
        assert src.wait(timeout=20) == 0, src.log()
    finally:
        guest.stop()
        src.stop()
    src.check_log()
    assert image.stat().st_size > 0

    # Destination: a fresh emulator, the state arrives from QEMU.
    dst = Swtpm(tmp_path, "dst")
    assert not any(dst.state.iterdir())
    qmp_path = tmp_path / "qmp-dst.sock"
    guest = Guest(qemu_argv(kernel, initrd, dst.ctrl, extra=[
        "-qmp", "unix:%s,server=on,wait=off" % qmp_path,
        "-incoming", "exec:cat %s" % image]), tmp_path / "dst.out")
    try:
        m = guest.wait_for(r"^GUEST: TICK \d+ " + pcrs, "a tick after "
                           "migration", dst.log())
        assert m.groups() == (pcr0, pcr16), guest.text()
        # And the next one too: the emulator keeps working.
        m = guest.wait_for(r"^GUEST: TICK (\d+) .*\n(?:.*\n)*?GUEST: TICK "
                           r"\d+ " + pcrs, "two ticks after migration",
                           dst.log())
        assert m.groups()[1:] == (pcr0, pcr16), guest.text()
        assert "GUEST: READY" not in guest.text()
        qmp = Qmp(qmp_path)
        qmp.cmd("quit")
        qmp.close()
        assert guest.proc.wait(timeout=30) == 0, guest.text()
        assert dst.wait(timeout=20) == 0, dst.log()
    finally:
        guest.stop()
        dst.stop()
    dst.check_log()
    # The destination emulator stored the permanent state it was given.
    assert (dst.state / "tpm2-00.permall").stat().st_size > 0
    image.unlink()  # mostly guest RAM, ~80 MB
