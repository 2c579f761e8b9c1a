# SPDX-License-Identifier: BSD-3-Clause
"""A file:// TPM state on a block device shared by two hosts
(docs/shared-storage.md §6), as Proxmox puts it on an iSCSI or shared
LVM volume: one image exported twice by qemu-nbd, attached as /dev/nbd0
(host A) and /dev/nbd1 (host B).  Each device has its own block cache and
its own inode, as each host's view of one LUN would; qemu's own image
lock is off, as two hosts' initiators would not share one.

What the tests pin down: our OFD lock keeps out a second emulator on the
same device node (one host), and does NOT keep out one on the other
device (another host); QEMU's migration sequence with --migration
release-lock-outgoing / incoming moves the state through the shared
volume.  Marked `nfs` (the two-hosts storage tests): they run in the
tests/vm guest, which has the nbd module, as root."""
import os
import subprocess
import time

import pytest

import helpers_reliability as rh
from helpers_swtpm import rc_of, servers  # noqa: F401 (a fixture)
# The NFS tests' control-channel helpers and emulator factory.
from test_nfs import (NV_INDEX, TPM_FAIL, define_and_write, init,
                      migrate_like_qemu, read_nv, tpm)

pytestmark = pytest.mark.nfs

IMAGE_SIZE = 1 << 20


def qemu_nbd(*args):
    p = subprocess.run(["qemu-nbd"] + [str(a) for a in args],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, "qemu-nbd %s: %s%s" % (args, p.stdout,
                                                     p.stderr)


def wait_size(dev, size, timeout=20):
    """The kernel knows the device's size once the export is attached."""
    name = os.path.basename(dev)
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with open("/sys/block/%s/size" % name) as f:
            if int(f.read()) * 512 == size:
                return
        time.sleep(0.1)
    pytest.fail("%s did not get its export's %d bytes" % (dev, size))


@pytest.fixture
def two_hosts(tmp_path):
    """(/dev/nbd0, /dev/nbd1): one zeroed image, attached twice."""
    if os.geteuid() != 0 or not os.path.isdir("/sys/module/nbd"):
        pytest.fail("the shared block device tests run as root in the "
                    "tests/vm guest: make vm-nfs-check")
    img = tmp_path / "lun.img"
    img.write_bytes(bytes(IMAGE_SIZE))
    opts = ("driver=raw,file.driver=file,file.filename=%s,"
            "file.locking=off" % img)
    devs = ["/dev/nbd0", "/dev/nbd1"]
    attached = []
    try:
        for dev in devs:
            qemu_nbd("--image-opts", "-c", dev, opts)
            attached.append(dev)
            wait_size(dev, IMAGE_SIZE)
        yield devs
    finally:
        for dev in attached:
            subprocess.run(["qemu-nbd", "-d", dev], capture_output=True,
                           timeout=60)


def on(dev):
    """The --tpmstate of a state on block device dev."""
    return "backend-uri=file://%s" % dev


def test_block_lock_holds_on_one_host_only(two_hosts, servers):
    dev_a, dev_b = two_hosts
    a = servers("a", on(dev_a))
    assert init(a) == 0, str(a)
    define_and_write(a, b"AAAAAAAA")
    # Host A: a second emulator on A's device node is refused.
    a2 = servers("a2", on(dev_a))
    assert init(a2) == TPM_FAIL, str(a2)
    assert "in use by another process" in a2.stderr(), str(a2)
    a2.stop()
    # Host B, the same volume through its own device: nothing stops it.
    # This is the case the cluster manager must fence.
    b = servers("b", on(dev_b))
    assert init(b) == 0, str(b)
    with b.connect_data() as s:
        assert rc_of(tpm(b, s, rh.startup_clear())) == 0
    with a.connect_data() as s:
        assert rc_of(tpm(a, s, rh.nv_write(NV_INDEX, b"CCCCCCCC"))) == 0
    b.stop()
    a.stop()


def test_block_qemu_migration_hands_over(two_hosts, servers):
    """QEMU's shared-storage migration sequence (as in test_nfs.py) from
    A's device to B's: B goes on with A's PCRs and NV, A writes nothing
    after the hand-over, and an emulator started later on A's device
    reads what B wrote."""
    dev_a, dev_b = two_hosts
    a, b = migrate_like_qemu(servers, on(dev_a), on(dev_b))
    b.stop()
    # Host A starts the TPM again later (the VM migrated back): it reads
    # B's state from the volume, not its own older one.
    c = servers("c", on(dev_a))
    assert init(c) == 0, str(c)
    assert read_nv(c) == b"BBBBBBBB"
