# SPDX-License-Identifier: BSD-3-Clause
"""A small sample of tests/vm/powercut in make check: three real power
cuts (SIGKILL of QEMU) while the guest writes NV through our swtpm with
its state on ext4 on a virtio disk; every acknowledged write must be
there after each cut, and the state must always load.  `make powercut`
runs 50 cuts each for ours and Debian's swtpm 0.7.1."""
import os
import shutil
import subprocess

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


@pytest.mark.qemu
@pytest.mark.skipif(not shutil.which("qemu-system-x86_64") or
                    not shutil.which("mkfs.ext4"),
                    reason="needs qemu-system-x86_64 and mkfs.ext4")
def test_power_cuts_keep_acknowledged_writes():
    p = subprocess.run([os.path.join(REPO, "tests", "vm", "powercut"),
                        "--rounds", "3", "--impl", "ours"],
                       capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "0 lost acknowledged writes, 0 failed loads, 0 fsck errors" \
        in p.stdout, p.stdout + p.stderr


@pytest.mark.qemu
@pytest.mark.skipif(not shutil.which("qemu-system-x86_64"),
                    reason="needs qemu-system-x86_64")
def test_power_cuts_on_a_raw_block_device():
    """The same with the file:// backend on the guest's virtio disk as a
    raw block device (docs/state.md §8.3): no file system in between, so
    only our write order (scratch, flush, header, flush, ...) keeps it."""
    p = subprocess.run([os.path.join(REPO, "tests", "vm", "powercut"),
                        "--rounds", "3", "--impl", "ours", "--backend",
                        "blk"],
                       capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "0 lost acknowledged writes, 0 failed loads, 0 fsck errors" \
        in p.stdout, p.stdout + p.stderr
