# SPDX-License-Identifier: BSD-3-Clause
"""A real libvirtd (Debian's 9.0) drives our swtpm_setup, swtpm and
swtpm_ioctl: four domains with an emulated TPM (TPM 2.0 CRB, TPM 2.0 TIS,
TPM 2.0 with state encrypted by a libvirt secret, TPM 1.2 TIS) are
defined, started, saved, restored, destroyed and undefined with --tpm,
and the EK certificate swtpm_setup made verifies against the system CA.

libvirtd runs privately (helpers_libvirt.py: its own mount namespace with
overlays on /etc, /var and /run) with build/bin first on its PATH.  The
guests boot Debian's kernel under TCG with a busybox initramfs that prints
the TPM's major version and PCR 0 (read from the TPM each time) every
second on the serial console, which libvirt writes to a file."""
import pathlib
import re
import shutil
import subprocess
import time
import uuid

import pytest

from conftest import BIN
from helpers_libvirt import CA_DIR, Libvirtd
from helpers_qemu import APPEND, INIT_HEAD, busybox_initrd, kernel  # noqa
from helpers_setup import der_to_pem, tpm2
from helpers_swtpm import OurSwtpm

pytestmark = pytest.mark.qemu

CONSOLE_TIMEOUT = 180

# Every second: the major version and PCR 0, read from the TPM each time
# (sysfs pcr-sha256/N and the TPM 1.2 pcrs file send a PCR read), so a
# TPM that stopped answering after restore shows up as an error here.
GUEST_INIT = INIT_HEAD + r"""
v=$(cat /sys/class/tpm/tpm0/tpm_version_major 2>&1)
echo "GUEST: tpm_version_major=$v"
i=0
while true; do
    if [ "$v" = 2 ]; then
        p=$(cat /sys/class/tpm/tpm0/pcr-sha256/0 2>&1)
    else
        p=$(grep PCR-00 /sys/class/tpm/tpm0/device/pcrs 2>&1 | tr -d ' ')
    fi
    m=$(cat /sys/class/tpm/tpm0/tpm_version_major 2>&1)
    echo "GUEST: tick=$i major=$m pcr0=$p"
    i=$((i+1))
    sleep 1
done
"""

# Whole lines only: the file may end in a line the guest is still writing
# (or was writing when it was saved).
TICK = re.compile(r"GUEST: tick=(\d+) major=(\S*) pcr0=(\S*)\r?\n")

DOMAIN_XML = """\
<domain type='qemu'>
  <name>{name}</name>
  <uuid>{uuid}</uuid>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>{kernel}</kernel>
    <initrd>{initrd}</initrd>
    <cmdline>{append}</cmdline>
  </os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>{qemu}</emulator>
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
    <serial type='file'><source path='{console}' append='on'/></serial>
    <tpm model='{model}'>
      <backend type='emulator' version='{version}'>{encryption}</backend>
    </tpm>
  </devices>
</domain>
"""

SECRET_XML = """\
<secret ephemeral='no' private='yes'>
  <uuid>{uuid}</uuid>
  <usage type='vtpm'><name>{name}-vtpm</name></usage>
</secret>
"""

# id: (TPM device model, backend version, encrypted state)
CASES = {
    "tpm2-crb": ("tpm-crb", "2.0", False),
    "tpm2-tis": ("tpm-tis", "2.0", False),
    "tpm2-secret": ("tpm-crb", "2.0", True),
    "tpm12-tis": ("tpm-tis", "1.2", False),
}


@pytest.fixture(scope="module")
def libvirtd(tmp_path_factory):
    for prog in ("libvirtd", "virsh", "unshare", "nsenter"):
        assert shutil.which(prog) or shutil.which(prog, path="/usr/sbin"), \
            "%s is missing (ci/install-deps)" % prog
    d = Libvirtd(tmp_path_factory.mktemp("libvirtd"))
    try:
        yield d
    finally:
        d.stop()


@pytest.fixture(scope="module")
def initrd(tmp_path_factory):
    return busybox_initrd(tmp_path_factory.mktemp("initrd") / "guest.cpio",
                          GUEST_INIT)


def console_ticks(path):
    try:
        text = pathlib.Path(path).read_text(errors="replace")
    except OSError:
        return []
    return [(int(n), major, pcr) for n, major, pcr in TICK.findall(text)]


def wait_tick(lv, name, console, after):
    """The first console tick numbered above `after`."""
    deadline = time.monotonic() + CONSOLE_TIMEOUT
    while time.monotonic() < deadline:
        ticks = [t for t in console_ticks(console) if t[0] > after]
        if ticks:
            return ticks[0]
        time.sleep(0.5)
    raise AssertionError("no console tick after %d from %s\n%s"
                         % (after, name, lv.diag(name)))


def our_swtpm_pids(lv, dom_uuid):
    return [p for p in lv.pids()
            if lv.exe_of(p) == str(BIN / "swtpm") and
            dom_uuid in lv.cmdline_of(p)]


def define_and_start(lv, tmp_path, kernel, initrd, name, model, version,
                     secret):
    dom_uuid = str(uuid.uuid4())
    encryption = ""
    if secret:
        sec_uuid = str(uuid.uuid4())
        sx = tmp_path / "secret.xml"
        sx.write_text(SECRET_XML.format(uuid=sec_uuid, name=name))
        lv.virsh("secret-define", sx)
        # 32 random bytes, as a key for aes-256-cbc.
        value = subprocess.run(["openssl", "rand", "-base64", "32"],
                               capture_output=True, text=True, check=True,
                               timeout=30).stdout.strip()
        lv.virsh("secret-set-value", sec_uuid, "--base64", value)
        encryption = "<encryption secret='%s'/>" % sec_uuid
    console = lv.root / ("%s.console" % name)
    xml = tmp_path / ("%s.xml" % name)
    xml.write_text(DOMAIN_XML.format(
        name=name, uuid=dom_uuid, kernel=kernel, initrd=initrd,
        append=APPEND, qemu=shutil.which("qemu-system-x86_64"),
        console=console, model=model, version=version,
        encryption=encryption))
    lv.virsh("define", xml)
    lv.virsh("start", name)
    return dom_uuid, console


def state_dir(dom_uuid, version):
    sub = "tpm2" if version == "2.0" else "tpm1.2"
    return "/var/lib/libvirt/swtpm/%s/%s" % (dom_uuid, sub)


@pytest.mark.parametrize("case", list(CASES))
def test_libvirt_tpm_lifecycle(libvirtd, initrd, kernel, tmp_path, case):
    """define, start (the guest sees its TPM), save, restore (same TPM
    state, guest carries on), destroy, undefine --tpm (state removed)."""
    lv = libvirtd
    model, version, secret = CASES[case]
    major = version.split(".")[0]
    name = "lv-" + case
    dom_uuid, console = define_and_start(lv, tmp_path, kernel, initrd, name,
                                         model, version, secret)
    statedir = state_dir(dom_uuid, version)
    permall = statedir + ("/tpm2-00.permall" if major == "2"
                          else "/tpm-00.permall")
    assert lv.exists(permall), lv.diag(name)
    # libvirt found and ran our swtpm, not Debian's.
    pids = our_swtpm_pids(lv, dom_uuid)
    assert len(pids) == 1, "%s\n%s" % (
        [(p, lv.exe_of(p), lv.cmdline_of(p)) for p in lv.pids()],
        lv.diag(name))
    if secret:
        assert "--key pwdfd=" in lv.cmdline_of(pids[0])

    n, got, pcr0 = wait_tick(lv, name, console, -1)
    text = pathlib.Path(console).read_text(errors="replace")
    assert re.findall(r"GUEST: tpm_version_major=(\S*)", text) == [major], \
        lv.diag(name)
    assert got == major, lv.diag(name)
    assert pcr0 and "rror" not in pcr0 and int(pcr0.split(":")[-1], 16), \
        lv.diag(name)

    saved = tmp_path / "save.img"
    lv.virsh("save", name, saved)
    assert lv.virsh("domstate", name).stdout.strip() == "shut off"
    assert our_swtpm_pids(lv, dom_uuid) == [], lv.diag(name)
    last = max(t[0] for t in console_ticks(console))
    lv.virsh("restore", saved)
    assert lv.virsh("domstate", name).stdout.strip() == "running"
    assert len(our_swtpm_pids(lv, dom_uuid)) == 1, lv.diag(name)
    # The guest carries on where it was saved, and its TPM answers with
    # the PCR 0 it had: the state came back through QEMU's stream.
    n2, got2, pcr0_2 = wait_tick(lv, name, console, last)
    assert n2 == last + 1, lv.diag(name)
    assert (got2, pcr0_2) == (major, pcr0), lv.diag(name)
    n3, got3, pcr0_3 = wait_tick(lv, name, console, n2)
    assert (got3, pcr0_3) == (major, pcr0), lv.diag(name)
    assert lv.virsh("domstate", name).stdout.strip() == "running"

    lv.virsh("destroy", name)
    # With the secret the state file is encrypted (header flag 0x01 and an
    # ENCRYPTED_DATA entry first), else it holds the plain blob.
    blob = lv.read(permall)
    flags = int.from_bytes(blob[4:6], "big")
    tag = int.from_bytes(blob[10:12], "big")
    assert (bool(flags & 1), tag) == ((True, 2) if secret else (False, 1)), \
        blob[:16].hex()
    if case == "tpm2-crb":
        check_ek_cert(lv, tmp_path, permall)
    lv.virsh("undefine", name, "--tpm")
    assert not lv.exists("/var/lib/libvirt/swtpm/%s" % dom_uuid), \
        lv.diag(name)
    assert lv.virsh("list", "--all", "--name").stdout.split() == []


def check_ek_cert(lv, tmp_path, permall):
    """The RSA EK certificate in NV index 0x01c00002 verifies against the
    system CA in /var/lib/swtpm-localca (root and intermediate)."""
    work = tmp_path / "ek"
    (work / "state").mkdir(parents=True)
    (work / "state/tpm2-00.permall").write_bytes(lv.read(permall))
    for f in ("issuercert.pem", "swtpm-localca-rootca-cert.pem"):
        assert lv.exists(CA_DIR + "/" + f), \
            "swtpm_setup did not use the system CA: no %s/%s\n%s" % (
                CA_DIR, f, lv.diag())
    bundle = work / "ca.pem"
    bundle.write_bytes(lv.read(CA_DIR + "/issuercert.pem") +
                       lv.read(CA_DIR + "/swtpm-localca-rootca-cert.pem"))
    srv = OurSwtpm(work, tpm2=True, running=False,
                   extra=["--flags", "not-need-init,startup-clear"])
    try:
        tpm2(srv, "tpm2_nvread", "-C", "o", "0x1c00002", "-o",
             work / "ek.der")
    finally:
        srv.stop()
    res = subprocess.run(["openssl", "verify", "-CAfile", bundle,
                          der_to_pem(work / "ek.der")],
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 0 and ": OK" in res.stdout, "%s%s\n%s" % (
        res.stdout, res.stderr, lv.diag())
