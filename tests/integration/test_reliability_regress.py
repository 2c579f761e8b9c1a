# SPDX-License-Identifier: BSD-3-Clause
"""End-to-end regression tests for findings of the fuzzers
(fuzz/README.md, docs/robustness.md)."""
import struct

import pytest

import helpers_reliability as rh
from helpers_cuse import cuse_tpm, rc_of

pytestmark = pytest.mark.cuse


def test_hash_data_reply_carries_no_stray_bytes(tmp_path):
    """PTM_HASH_DATA's reply is the whole 4100-byte struct.  swtpm_cuse
    used to send it from a 3088-byte buffer, so the last 1012 bytes were
    whatever followed that buffer in memory (fuzz_ctrl_ioctl)."""
    with cuse_tpm(tmp_path) as t, t.open() as d:
        assert d.init() == 0
        assert rc_of(d.cmd(rh.startup_clear())) == 0
        # Leave TPM output and a state blob in the daemon's buffers.
        assert rc_of(d.cmd(rh.get_random(32))) == 0
        assert d.get_blob(1)[0] == 0
        assert d.res("HASH_START") == 0
        payload = struct.pack("=I", 16) + b"\xee" * 4096
        reply = d.ioctl("HASH_DATA", payload)
        assert len(reply) == 4100
        assert struct.unpack("=I", reply[:4])[0] == 0
        assert reply[4:] == bytes(4096), "reply carries stray bytes"
        assert d.res("HASH_END") == 0
