# SPDX-License-Identifier: BSD-3-Clause
"""A compromised swtpm_cuse (issue 21, docs/cli.md §3.1): every thread
of a confined CUSE daemon, the FUSE loop and the worker that runs the
slow TPM commands (started after Landlock so that it inherits it), is
made to execute system calls as itself (helpers_inject.py) against
another instance's state, /etc/shadow and /tmp; each fails, and both
devices serve on.  The socket variant: test_socket_confine.py."""
import errno
import os

import pytest

from helpers_cuse import cuse_tpm
from helpers_inject import AT_FDCWD, Injector

pytestmark = pytest.mark.cuse

O_WRONLY_CREAT = 0o101
AF_INET, SOCK_STREAM = 2, 1
TPM2_GETRANDOM_8 = bytes.fromhex("80010000000c0000017b0008")


def openat(inj, path, flags=0, mode=0):
    return inj.syscall("openat", AT_FDCWD, inj.put(str(path).encode()),
                       flags, mode)


def test_every_cuse_thread_is_confined(tmp_path):
    with cuse_tpm(tmp_path, extra=["--flags", "startup-clear"]) as victim, \
            cuse_tpm(tmp_path, extra=["--flags", "startup-clear"]) as t:
        other = os.path.join(victim.state, "tpm2-00.permall")
        assert os.path.exists(other)
        tids = sorted(int(x) for x in os.listdir("/proc/%d/task" % t.pid))
        assert len(tids) >= 2, "no worker thread"
        for tid in tids:
            inj = Injector(tid)
            try:
                got = {
                    "other_state": openat(inj, other),
                    "other_dir": openat(inj, victim.state),
                    "shadow": openat(inj, "/etc/shadow"),
                    "create_tmp": openat(inj, "/tmp/confine-cuse-%d" % tid,
                                         O_WRONLY_CREAT, 0o600),
                    "tcp_socket": inj.syscall("socket", AF_INET,
                                              SOCK_STREAM, 0),
                }
            finally:
                inj.detach()
            assert got == {"other_state": -errno.EACCES,
                           "other_dir": -errno.EACCES,
                           "shadow": -errno.EACCES,
                           "create_tmp": -errno.EACCES,
                           "tcp_socket": -errno.EPERM}, (tid, got)
        for dev in (t, victim):
            with dev.open() as d:
                resp = d.cmd(TPM2_GETRANDOM_8)
                assert resp[6:10] == bytes(4), resp.hex()
        assert "Landlock ABI" in t.read_log()
