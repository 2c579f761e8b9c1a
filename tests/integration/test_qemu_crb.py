# SPDX-License-Identifier: BSD-3-Clause
"""QEMU's tpm-crb device (the CRB interface, as on Q35/UEFI machines)
backed by our `swtpm socket`: the guest kernel binds tpm_crb, /dev/tpm0
appears and PCR 0 holds SeaBIOS's measurements.  The same guest as the
tpm-tis test in test_socket_qemu.py."""
import pytest

from helpers_qemu import kernel, run_guest  # noqa: F401

pytestmark = pytest.mark.qemu


def test_qemu_crb_guest_sees_tpm_and_pcr0(tmp_path, kernel):
    run_guest(tmp_path, kernel, "tpm-crb", "tpm_crb")
