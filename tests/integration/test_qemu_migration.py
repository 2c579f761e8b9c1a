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

from conftest import tool
from helpers_qemu import (EXTEND_OK, INIT_HEAD, RAW_CMD_FN, Swtpm,
                          busybox_initrd, kernel, pcr_extend_cmd,  # noqa: F401
                          qemu_argv)

pytestmark = pytest.mark.qemu

DIGEST = bytes(range(32))


def guest_init(setup, status):
    """The guest's /init: run the shell lines setup, then print READY and
    a TICK every second, each followed by status (shell words)."""
    return INIT_HEAD + RAW_CMD_FN + setup + """
P=/sys/class/tpm/tpm0/pcr-sha256
echo "GUEST: READY STATUS"
n=0
while [ $n -lt 600 ]; do
    n=$((n+1))
    echo "GUEST: TICK $n STATUS"
    sleep 1
done
poweroff -f
""".replace("STATUS", status)


GUEST_INIT = guest_init("tpm_raw /extend.bin EXTEND",
                        "PCR0=$(cat $P/0) PCR16=$(cat $P/16)")

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


def backend_args(tmp_path, backend, name):
    """Swtpm keyword arguments for a fresh state of `backend`."""
    if backend == "dir":
        return {}
    return {"tpmstate": "backend-uri=file://%s" % (tmp_path / name)}


@pytest.mark.parametrize("backend", ["dir", "file"])
def test_qemu_migration_to_file_and_back(tmp_path, kernel, backend):
    initrd = busybox_initrd(tmp_path / "initrd.cpio", GUEST_INIT,
                            files=[("extend.bin", pcr_extend_cmd(16, DIGEST))])
    image = tmp_path / "migration.img"
    expect16 = hashlib.sha256(bytes(32) + DIGEST).hexdigest().upper()
    pcrs = r"PCR0=([0-9A-F]{64}) PCR16=([0-9A-F]{64})$"

    # Source: boot, extend PCR 16, migrate to a file, quit.
    src = Swtpm(tmp_path, "src", **backend_args(tmp_path, backend, "src.tpm"))
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
    dst = Swtpm(tmp_path, "dst", **backend_args(tmp_path, backend, "dst.tpm"))
    if backend == "dir":
        assert not any(dst.state.iterdir())
    else:
        assert (tmp_path / "dst.tpm").stat().st_size == 0
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
    if backend == "dir":
        assert (dst.state / "tpm2-00.permall").stat().st_size > 0
    else:
        hdr = (tmp_path / "dst.tpm").read_bytes()[:24]
        assert hdr[:8] == b"nilmptws" and hdr[12:16] == bytes([192, 0, 0, 0])
        assert int.from_bytes(hdr[16:20], "little") > 0
    image.unlink()  # mostly guest RAM, ~80 MB


# ---- Live migration on shared storage --------------------------------------
#
# Two QEMU processes on one machine stand for two hosts, and two of our
# `swtpm socket` for their emulators, both on the SAME state (a directory,
# or a file:// backend on a loop device, as a LUN every host sees).  The
# source emulator runs with --migration release-lock-outgoing, the
# destination with --migration incoming; QEMU live-migrates the running
# guest over a Unix socket.

NV_INDEX = 0x01500030
NV_DATA = b"vtpm-nv!"

SHARED_INIT = guest_init("""
tpm_hex() {
    exec 3<>/dev/tpm0
    cat "$1" >&3
    dd bs=4096 count=1 <&3 2>/dev/null | od -An -tx1 | tr -d ' \\n'
    exec 3>&-
}
tpm_raw /extend.bin EXTEND
tpm_raw /nvdef.bin NVDEF
tpm_raw /nvwr.bin NVWR""", "PCR16=$(cat $P/16) NV=$(tpm_hex /nvrd.bin)")


def shared_initrd(tmp_path):
    import helpers_reliability as rh
    return busybox_initrd(tmp_path / "initrd.cpio", SHARED_INIT, files=[
        ("extend.bin", pcr_extend_cmd(16, DIGEST)),
        ("nvdef.bin", rh.nv_define(NV_INDEX, len(NV_DATA))),
        ("nvwr.bin", rh.nv_write(NV_INDEX, NV_DATA)),
        ("nvrd.bin", rh.nv_read(NV_INDEX, len(NV_DATA)))])


@pytest.fixture
def shared_state(request, tmp_path):
    """(--tpmstate value, a function returning the state's bytes)."""
    if request.param == "dir":
        d = tmp_path / "shared-state"
        d.mkdir()

        def snapshot():
            return {p.name: p.read_bytes() for p in sorted(d.iterdir())
                    if p.name != ".lock"}
        yield "dir=%s" % d, snapshot
        return
    img = tmp_path / "lun.img"
    img.write_bytes(bytes(1 << 20))
    dev = subprocess.run(["losetup", "-f", "--show", str(img)],
                         capture_output=True, text=True, check=True)
    dev = dev.stdout.strip()

    def snapshot_dev():
        with open(dev, "rb") as f:
            return f.read()
    try:
        yield "backend-uri=file://%s" % dev, snapshot_dev
    finally:
        subprocess.run(["losetup", "-d", dev], check=False)


def wait_migration(qmp, guest, log, want="completed"):
    deadline = time.monotonic() + TIMEOUT
    while True:
        status = qmp.cmd("query-migrate").get("status")
        if status == want:
            return
        assert status in ("setup", "active", "device", "pre-switchover",
                          "cancelling") and time.monotonic() < deadline, \
            "migration %s\n%s\n%s" % (status, guest.text(), log)
        time.sleep(0.2)


def probe_lock(tmp_path, tpmstate, name):
    """A third emulator on the shared state: its stderr when the lock
    keeps it out, else None (it got the lock)."""
    p = subprocess.Popen([tool("swtpm"), "socket", "--tpm2", "--tpmstate",
                          tpmstate, "--flags", "not-need-init",
                          "--ctrl", "type=unixio,path=%s"
                          % (tmp_path / ("%s.sock" % name))],
                         stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                         text=True)
    try:
        rc = p.wait(timeout=20)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        return None
    err = p.stderr.read()
    assert rc == 1, err
    return err


def guest_values(m):
    pcr16, nv = m.groups()
    assert nv[12:20] == "00000000", nv      # TPM_RC_SUCCESS
    return pcr16, nv


TICK = r"PCR16=([0-9A-F]{64}) NV=([0-9a-f]+)$"


class SharedPair:
    """Source and destination emulators on one state (the source with
    --migration release-lock-outgoing plus src_extra, the destination
    with incoming), the source guest with a QMP socket; the destination
    guest is started by start_destination()."""

    def __init__(self, tmp_path, kernel, tpmstate, src_extra=()):
        self.tmp_path, self.kernel = tmp_path, kernel
        self.initrd = shared_initrd(tmp_path)
        self.mig = tmp_path / "mig.sock"
        self.qsrc = tmp_path / "qmp-src.sock"
        self.qdst = tmp_path / "qmp-dst.sock"
        self.src = Swtpm(tmp_path, "src", tpmstate=tpmstate,
                         extra=["--migration", "release-lock-outgoing"] +
                         list(src_extra))
        self.dst = Swtpm(tmp_path, "dst", tpmstate=tpmstate,
                         extra=["--migration", "incoming"])
        self.gsrc = Guest(qemu_argv(kernel, self.initrd, self.src.ctrl, extra=[
            "-qmp", "unix:%s,server=on,wait=off" % self.qsrc]),
            tmp_path / "src.out")
        self.gdst = None

    def start_destination(self, with_qmp=False):
        """The incoming QEMU, once it listens; returns the source's QMP."""
        extra = ["-incoming", "unix:%s" % self.mig]
        if with_qmp:
            extra = ["-qmp", "unix:%s,server=on,wait=off" % self.qdst] + extra
        self.gdst = Guest(qemu_argv(self.kernel, self.initrd, self.dst.ctrl,
                                    extra=extra), self.tmp_path / "dst.out")
        for _ in range(100):
            if self.mig.exists():
                break
            time.sleep(0.1)
        return Qmp(self.qsrc)

    def stop(self):
        self.gsrc.stop()
        if self.gdst:
            self.gdst.stop()
        self.src.stop()
        self.dst.stop()


@pytest.mark.parametrize("shared_state", ["dir", "file"], indirect=True)
def test_qemu_live_migration_shared_storage(tmp_path, kernel, shared_state):
    tpmstate, snapshot = shared_state
    expect16 = hashlib.sha256(bytes(32) + DIGEST).hexdigest().upper()
    pair = SharedPair(tmp_path, kernel, tpmstate)
    src, dst, gsrc = pair.src, pair.dst, pair.gsrc
    try:
        m = gsrc.wait_for(r"^GUEST: READY " + TICK, "READY", src.log())
        pcr16, nv = guest_values(m)
        assert pcr16 == expect16, gsrc.text()
        assert NV_DATA.hex() in nv, gsrc.text()
        gsrc.wait_for(r"^GUEST: TICK 1 ", "a tick")
        # The source holds the lock: a third emulator is refused.
        assert probe_lock(tmp_path, tpmstate, "p1") is not None

        qmp = pair.start_destination(with_qmp=True)
        gdst = pair.gdst
        qmp.cmd("migrate", uri="unix:%s" % pair.mig)
        wait_migration(qmp, gsrc, src.log())
        assert qmp.cmd("query-status")["status"] == "postmigrate"

        # The guest runs on at the destination with the same PCR and NV.
        m = gdst.wait_for(r"^GUEST: TICK \d+ " + TICK, "a tick after "
                          "migration", dst.log())
        assert guest_values(m) == (pcr16, nv), gdst.text()
        assert "GUEST: READY" not in gdst.text()
        # The lock is the destination's now...
        err = probe_lock(tmp_path, tpmstate, "p2")
        assert err is not None, dst.log()
        if tpmstate.startswith("dir="):
            assert "in use by process %d" % dst.proc.pid in err, err
        # ...and the source's exit writes nothing over its state.
        before = snapshot()
        qmp.cmd("quit")
        qmp.close()
        assert gsrc.proc.wait(timeout=30) == 0, gsrc.text()
        assert src.wait(timeout=20) == 0, src.log()
        assert snapshot() == before
        m = gdst.wait_for(r"^GUEST: TICK (\d+) .*\n(?:.*\n)*?GUEST: TICK "
                          r"\d+ " + TICK, "two ticks after the source left",
                          dst.log())
        assert m.groups()[1:] == (pcr16, nv), gdst.text()
        qmp = Qmp(pair.qdst)
        qmp.cmd("quit")
        qmp.close()
        assert gdst.proc.wait(timeout=30) == 0, gdst.text()
        assert dst.wait(timeout=20) == 0, dst.log()
    finally:
        pair.stop()
    src.check_log()
    dst.check_log()
    assert "not writing TPM state" not in src.log()
    # Whatever the destination left loads, the NV index included.
    assert probe_lock(tmp_path, tpmstate, "p3") is None


def source_carries_on(tmp_path, pair, tpmstate, qmp, values, what):
    """After a migration that did not happen: the source guest runs on
    and ticks with the TPM values it had, its emulator holds the lock;
    then the guest is told to quit and exits cleanly."""
    gsrc = pair.gsrc
    assert qmp.cmd("query-status")["status"] == "running"
    last = int(gsrc.wait_for(r"^GUEST: TICK (\d+) ", "a tick").group(1))
    m = gsrc.wait_for(r"^GUEST: TICK %d " % (last + 2) + TICK, what,
                      pair.src.log())
    assert guest_values(m) == values, gsrc.text()
    err = probe_lock(tmp_path, tpmstate, "p1")
    assert err is not None and "in use by another process" in err, err
    qmp.cmd("quit")
    qmp.close()
    assert gsrc.proc.wait(timeout=30) == 0, gsrc.text()


@pytest.mark.parametrize("shared_state", ["file"], indirect=True)
def test_qemu_cancelled_migration_keeps_source(tmp_path, kernel,
                                               shared_state):
    """A migration cancelled while RAM is still being copied: the source
    guest runs on with its TPM, and the source emulator keeps the lock."""
    tpmstate, snapshot = shared_state
    pair = SharedPair(tmp_path, kernel, tpmstate)
    src, gsrc = pair.src, pair.gsrc
    try:
        m = gsrc.wait_for(r"^GUEST: READY " + TICK, "READY", src.log())
        values = guest_values(m)
        qmp = pair.start_destination()
        # 64 KiB/s: 256 MiB of guest RAM would take an hour.
        qmp.cmd("migrate-set-parameters", **{"max-bandwidth": 65536})
        qmp.cmd("migrate", uri="unix:%s" % pair.mig)
        wait_migration(qmp, gsrc, src.log(), want="active")
        qmp.cmd("migrate_cancel")
        wait_migration(qmp, gsrc, src.log(), want="cancelled")
        source_carries_on(tmp_path, pair, tpmstate, qmp, values,
                          "ticks after the cancel")
        assert src.wait(timeout=20) == 0, src.log()
    finally:
        pair.stop()
    src.check_log()
    assert "released the lock" not in src.log()


@pytest.mark.parametrize("shared_state", ["file"], indirect=True)
def test_qemu_failed_migration_source_takes_lock_back(tmp_path, kernel,
                                                      shared_state):
    """A migration that fails after the source handed out its blobs (and
    so gave the lock up): the destination emulator lacks the migration
    key and refuses them, the source guest is resumed (`cont`, as libvirt
    does), and the source emulator takes the lock back; the guest's TPM
    state is intact."""
    tpmstate, snapshot = shared_state
    key = tmp_path / "migkey"
    key.write_text("00112233445566778899aabbccddeeff")
    pair = SharedPair(tmp_path, kernel, tpmstate,
                      src_extra=["--migration-key", "file=%s" % key])
    src, dst, gsrc = pair.src, pair.dst, pair.gsrc
    try:
        m = gsrc.wait_for(r"^GUEST: READY " + TICK, "READY", src.log())
        values = guest_values(m)
        qmp = pair.start_destination()
        gdst = pair.gdst
        qmp.cmd("migrate", uri="unix:%s" % pair.mig)
        # The source only learns that the stream went out; the
        # destination fails to load it, and the manager (libvirt)
        # resumes the source.
        wait_migration(qmp, gsrc, src.log())
        assert gdst.proc.wait(timeout=60) != 0, gdst.text()
        assert "Setting the stateblob" in gdst.text(), gdst.text()
        assert "released the lock" in src.log(), src.log()
        dst.wait(timeout=20)    # gone: only the source can hold the lock
        qmp.cmd("cont")
        source_carries_on(tmp_path, pair, tpmstate, qmp, values,
                          "ticks after the failed migration")
        src.wait(timeout=20)
    finally:
        pair.stop()
    src.check_log()
    assert "not writing TPM state" not in src.log(), src.log()
    assert "not sending TPM2_Shutdown" not in src.log(), src.log()
