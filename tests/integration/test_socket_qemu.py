# SPDX-License-Identifier: BSD-3-Clause
"""QEMU end to end: a TCG guest with `-tpmdev emulator` talks to our
`swtpm socket --ctrl type=unixio,...` (QEMU's own control protocol,
SET_DATAFD with a socketpair, raw TPM commands on the data fd).  The guest boots
the Debian bzImage cached by tests/vm and a tiny busybox initramfs that
reports whether /dev/tpm0 exists and what PCR 0 holds (SeaBIOS measures
itself into it)."""
import pytest

from helpers_qemu import kernel, run_guest  # noqa: F401

pytestmark = pytest.mark.qemu


def test_qemu_guest_sees_tpm_and_pcr0(tmp_path, kernel):
    run_guest(tmp_path, kernel, "tpm-tis", "tpm_tis")
