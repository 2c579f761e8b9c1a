# SPDX-License-Identifier: BSD-3-Clause
"""Real libvirtds drive our swtpm_setup, swtpm and swtpm_ioctl: Debian 12's
libvirt 9.0 from the host, and bookworm-backports' libvirt 11.x (with its
QEMU) in the root tests/libvirt/mkroot caches, on top of `make install`
of this checkout and without Debian's swtpm packages.

For each libvirt and each TPM set-up (CASES) a domain is defined, started
(the guest sees its TPM), saved, restored (same TPM state, guest carries
on), destroyed, started again and undefined; the EK certificate
swtpm_setup made verifies against the system CA.

libvirtd runs privately (helpers_libvirt.py: its own mount namespace and
root of fresh mounts, overlays over the system paths) with build/bin first
on its PATH.  The guests boot Debian's kernel under TCG with a busybox
initramfs that prints the TPM's major version, its PCR banks, and PCR 0
(read from the TPM each time) every second on the serial console, which
libvirt writes to a file.

`make check` runs the cases marked core; `make libvirt-check` runs all."""
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

pytestmark = [pytest.mark.qemu, pytest.mark.libvirt]

CONSOLE_TIMEOUT = 180

# The major version and the PCR banks once, then every second the major
# version and PCR 0, read from the TPM each time (sysfs pcr-sha256/N and
# the TPM 1.2 pcrs file send a PCR read), so a TPM that stopped answering
# after restore shows up as an error here.
GUEST_INIT = INIT_HEAD + r"""
v=$(cat /sys/class/tpm/tpm0/tpm_version_major 2>&1)
echo "GUEST: tpm_version_major=$v"
b=$(cd /sys/class/tpm/tpm0 2>/dev/null && echo pcr-* | tr ' ' ,)
echo "GUEST: banks=$b"
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
BANKS = re.compile(r"GUEST: banks=(\S*)\r?\n")

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
      <backend type='emulator' version='{version}'{attrs}>{children}</backend>
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

# Where the <source> cases keep their state (inside libvirtd's root);
# SHARED is listed in qemu.conf's shared_filesystems ("11" only).
SRC_DIR = "/var/lib/lvtest/dir-state"
FILE_DIR = "/var/lib/lvtest/tss-owned"
SHARED = "/var/lib/lvtest/shared"


class Case:
    """One TPM set-up: device model, backend version, and what else the
    backend element says."""

    def __init__(self, model, version, secret=False, attrs="", children="",
                 banks=None, transient=False, state=None, flavors=("9", "11"),
                 core=()):
        self.model, self.version = model, version
        self.secret, self.attrs, self.children = secret, attrs, children
        self.banks, self.transient, self.state = banks, transient, state
        self.flavors, self.core = flavors, core


CASES = {
    "tpm2-crb": Case("tpm-crb", "2.0", core=("9", "11")),
    "tpm2-tis": Case("tpm-tis", "2.0", core=("9",)),
    "tpm12-tis": Case("tpm-tis", "1.2", core=("9", "11")),
    "tpm2-secret": Case("tpm-crb", "2.0", secret=True, core=("9", "11")),
    "tpm2-debug": Case("tpm-crb", "2.0", attrs=" debug='20'",
                       flavors=("11",)),
    "tpm2-banks": Case("tpm-crb", "2.0",
                       children="<active_pcr_banks><sha1/><sha256/>"
                                "</active_pcr_banks>",
                       banks="pcr-sha1,pcr-sha256"),
    "tpm2-transient": Case("tpm-crb", "2.0", transient=True),
    # libvirt 9.0 knows neither debug= nor <source type='dir'> nor
    # type='file' (test_libvirt9_rejects_newer_backend).
    "tpm2-source-dir": Case("tpm-crb", "2.0", flavors=("11",),
                            children="<source type='dir' path='%s'/>"
                                     % SRC_DIR, state=SRC_DIR),
    "tpm2-source-file": Case("tpm-crb", "2.0", flavors=("11",),
                             children="<source type='file' path='%s/tpm2'/>"
                                      % FILE_DIR, state=FILE_DIR + "/tpm2",
                             core=("11",)),
    "tpm2-shared": Case("tpm-crb", "2.0", flavors=("11",),
                        children="<source type='dir' path='%s'/>" % SHARED,
                        state=SHARED),
}


def case_params():
    out = []
    for flavor in ("9", "11"):
        for cid, c in CASES.items():
            if flavor not in c.flavors:
                continue
            marks = [] if flavor in c.core else [pytest.mark.libvirt_full]
            out.append(pytest.param(flavor, cid, marks=marks,
                                    id="%s-libvirt%s" % (cid, flavor)))
    return out


_daemons = {}


@pytest.fixture(scope="module")
def daemons(tmp_path_factory):
    """One libvirtd per flavor, started on first use, stopped at the end
    of the module."""
    for prog in ("libvirtd", "virsh", "unshare", "nsenter", "pivot_root"):
        assert shutil.which(prog) or shutil.which(prog, path="/usr/sbin"), \
            "%s is missing (ci/install-deps)" % prog

    def get(flavor):
        if flavor not in _daemons:
            extra = ""
            if flavor == "11":
                extra = 'shared_filesystems = [ "%s" ]\n' % SHARED
            _daemons[flavor] = Libvirtd(
                tmp_path_factory.mktemp("libvirtd%s" % flavor), flavor,
                binds=[tmp_path_factory.getbasetemp()],
                log_filters="1:util.command", qemu_conf=extra)
        return _daemons[flavor]
    try:
        yield get
    finally:
        while _daemons:
            _daemons.popitem()[1].stop()


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


def our_swtpm_pids(lv, name):
    """Our swtpm processes serving domain `name`: its control socket is
    named after the domain (libvirt's short name: "ID-" and the first 20
    characters), whatever the state's path."""
    sock = "-%s-swtpm.sock," % name[:20]
    return [p for p in lv.pids()
            if lv.exe_of(p) == str(BIN / "swtpm") and
            sock in lv.cmdline_of(p)]


def make_secret(lv, tmp_path, name):
    sec_uuid = str(uuid.uuid4())
    sx = tmp_path / "secret.xml"
    sx.write_text(SECRET_XML.format(uuid=sec_uuid, name=name))
    lv.virsh("secret-define", sx)
    # 32 random bytes, as a key for aes-256-cbc.
    value = subprocess.run(["openssl", "rand", "-base64", "32"],
                           capture_output=True, text=True, check=True,
                           timeout=30).stdout.strip()
    lv.virsh("secret-set-value", sec_uuid, "--base64", value)
    return "<encryption secret='%s'/>" % sec_uuid


def write_xml(lv, tmp_path, kernel, initrd, name, dom_uuid, c, attrs=None,
              extra_children=""):
    console = lv.root / ("%s.console" % name)
    xml = tmp_path / ("%s-%s.xml" % (name, uuid.uuid4().hex[:8]))
    xml.write_text(DOMAIN_XML.format(
        name=name, uuid=dom_uuid, kernel=kernel, initrd=initrd,
        append=APPEND, qemu="/usr/bin/qemu-system-x86_64",
        console=console, model=c.model, version=c.version,
        attrs=c.attrs if attrs is None else attrs,
        children=c.children + extra_children))
    return xml, console


def state_dir(dom_uuid, version):
    sub = "tpm2" if version == "2.0" else "tpm1.2"
    return "/var/lib/libvirt/swtpm/%s/%s" % (dom_uuid, sub)


def state_file(c, dom_uuid):
    """The file holding the permanent state, as libvirtd sees it."""
    if c.state and "type='file'" in c.children:
        return c.state
    d = c.state or state_dir(dom_uuid, c.version)
    return d + ("/tpm2-00.permall" if c.version == "2.0"
                else "/tpm-00.permall")


def prepare_state_paths(lv, c):
    if c.state is None:
        return
    lv.ns("rm", "-rf", c.state)
    if "type='file'" in c.children:
        # A directory owned by tss, where swtpm (run as tss) may create
        # its file.
        lv.ns("install", "-d", "-o", "tss", "-g", "tss", "-m", "0750",
              FILE_DIR)
    else:
        lv.ns("mkdir", "-p", str(pathlib.PurePath(c.state).parent))


def boot_check(lv, name, console, c, after=-1):
    """The guest found its TPM: first tick after `after`, right major
    version, a PCR 0 read from it.  Returns the tick."""
    major = c.version.split(".")[0]
    n, got, pcr0 = wait_tick(lv, name, console, after)
    text = pathlib.Path(console).read_text(errors="replace")
    majors = re.findall(r"GUEST: tpm_version_major=(\S*)", text)
    assert majors and set(majors) == {major}, lv.diag(name)
    assert got == major, lv.diag(name)
    assert pcr0 and "rror" not in pcr0 and int(pcr0.split(":")[-1], 16), \
        lv.diag(name)
    if c.banks:
        assert BANKS.findall(text)[-1] == c.banks, lv.diag(name)
    return n, got, pcr0


def save_restore(lv, tmp_path, name, console, dom_uuid, c, tick):
    """Save, restore: the guest carries on where it was saved and its TPM
    answers with the PCR 0 it had (the state came back through QEMU's
    stream)."""
    _, major, pcr0 = tick
    saved = tmp_path / "save.img"
    lv.virsh("save", name, saved)
    if c.transient:
        assert name not in listed(lv)
    else:
        assert lv.virsh("domstate", name).stdout.strip() == "shut off"
    assert our_swtpm_pids(lv, name) == [], lv.diag(name)
    last = max(t[0] for t in console_ticks(console))
    lv.virsh("restore", saved)
    saved.unlink()
    assert lv.virsh("domstate", name).stdout.strip() == "running"
    assert len(our_swtpm_pids(lv, name)) == 1, lv.diag(name)
    n2, got2, pcr0_2 = wait_tick(lv, name, console, last)
    assert n2 == last + 1, lv.diag(name)
    assert (got2, pcr0_2) == (major, pcr0), lv.diag(name)
    n3, got3, pcr0_3 = wait_tick(lv, name, console, n2)
    assert (got3, pcr0_3) == (major, pcr0), lv.diag(name)
    assert lv.virsh("domstate", name).stdout.strip() == "running"


def check_swtpm_cmdline(lv, name, dom_uuid, c):
    pids = our_swtpm_pids(lv, name)
    # libvirt found and ran our swtpm, not Debian's.
    assert len(pids) == 1, "%s\n%s" % (
        [(p, lv.exe_of(p), lv.cmdline_of(p)) for p in lv.pids()],
        lv.diag(name))
    cmd = lv.cmdline_of(pids[0])
    if c.secret:
        assert "--key pwdfd=" in cmd, cmd
    if "debug=" in c.attrs:
        assert re.search(r"--log \S*level=20", cmd), cmd
    if c.state == SHARED:
        # libvirt 11.3 passes --migration release-lock-outgoing only for a
        # state on a filesystem it detects as shared (NFS, CephFS, ...):
        # a path listed in qemu.conf's shared_filesystems gets none
        # (docs/shared-storage.md §4).  Fails once libvirt changes that.
        assert "--migration" not in cmd, cmd


def check_state_encryption(lv, path, c):
    """With the secret the state file is encrypted (header flag 0x01 and
    an ENCRYPTED_DATA entry first), else it holds the plain blob.  (A
    <source type='file'> holds every blob in one file of another layout,
    docs/state.md §8.)"""
    if "type='file'" in c.children:
        return
    blob = lv.read(path)
    flags = int.from_bytes(blob[4:6], "big")
    tag = int.from_bytes(blob[10:12], "big")
    assert (bool(flags & 1), tag) == ((True, 2) if c.secret else (False, 1)),\
        blob[:16].hex()


def listed(lv):
    return lv.virsh("list", "--all", "--name").stdout.split()


@pytest.fixture
def cleanup():
    """Domains a test names here are destroyed and undefined (with their
    TPM state) when it ends, passed or not."""
    names = []
    yield names
    for lv, name in names:
        if lv.proc is not None and name in listed(lv):
            lv.virsh("destroy", name, check=False)
            lv.virsh("undefine", name, "--tpm", check=False)


@pytest.mark.parametrize("flavor,case", case_params())
def test_libvirt_tpm_lifecycle(daemons, initrd, kernel, tmp_path, cleanup,
                               flavor, case):
    """define (or create), start (the guest sees its TPM), save, restore,
    destroy, start again, undefine --tpm (state removed)."""
    lv = daemons(flavor)
    c = CASES[case]
    name = "lv%s-%s" % (flavor, case)
    cleanup.append((lv, name))
    dom_uuid = str(uuid.uuid4())
    prepare_state_paths(lv, c)
    extra = make_secret(lv, tmp_path, name) if c.secret else ""
    xml, console = write_xml(lv, tmp_path, kernel, initrd, name, dom_uuid, c,
                             extra_children=extra)

    if c.transient:
        lv.virsh("create", xml)
    else:
        lv.virsh("define", xml)
        lv.virsh("start", name)
    path = state_file(c, dom_uuid)
    assert lv.exists(path), lv.diag(name)
    check_swtpm_cmdline(lv, name, dom_uuid, c)
    tick = boot_check(lv, name, console, c)
    save_restore(lv, tmp_path, name, console, dom_uuid, c, tick)
    lv.virsh("destroy", name)
    assert our_swtpm_pids(lv, name) == [], lv.diag(name)

    if c.transient:
        # A transient domain's TPM state goes with it.
        assert not lv.exists("/var/lib/libvirt/swtpm/%s" % dom_uuid)
        assert name not in listed(lv)
        last = max(t[0] for t in console_ticks(console))
        pathlib.Path(console).write_text("")
        lv.virsh("create", xml)
        boot_check(lv, name, console, c)
        lv.virsh("destroy", name)
        assert name not in listed(lv)
        return

    check_state_encryption(lv, path, c)
    if case == "tpm2-crb":
        check_ek_cert(lv, tmp_path, path)
    # Started again from the state on disk.
    last = max(t[0] for t in console_ticks(console))
    pathlib.Path(console).write_text("")
    lv.virsh("start", name)
    check_swtpm_cmdline(lv, name, dom_uuid, c)
    boot_check(lv, name, console, c)
    lv.virsh("destroy", name)
    assert last >= 2

    lv.virsh("undefine", name, "--tpm")
    if c.state:
        assert not lv.exists(c.state), lv.diag(name)
    assert not lv.exists("/var/lib/libvirt/swtpm/%s" % dom_uuid), \
        lv.diag(name)
    assert name not in listed(lv)
    check_commands(lv, name)


def check_commands(lv, name):
    """Every swtpm, swtpm_setup and swtpm_ioctl command line libvirtd ran
    was ours and ended with status 0, and none asked for --print-info
    (which needs libtpms 0.10's profiles: we do not list
    cmdarg-print-info)."""
    text = lv.log.read_text(errors="replace")
    runs = re.findall(r"About to run (.*)", text)
    ours = [r for r in runs if re.search(r"\bswtpm(_setup|_ioctl)?\b", r)]
    assert ours, lv.diag(name)
    for r in ours:
        assert "--print-info" not in r, r
    for r in ours:
        prog = r.split()[0] if "=" not in r.split()[0] else ""
        if prog.startswith("/") and "swtpm" in prog:
            assert prog.startswith(str(BIN)), r


def ek_cert(lv, tmp_path, permall):
    """The RSA EK certificate in NV index 0x01c00002 of a TPM 2 state."""
    work = tmp_path / ("ek-%s" % uuid.uuid4().hex[:8])
    (work / "state").mkdir(parents=True)
    (work / "state/tpm2-00.permall").write_bytes(lv.read(permall))
    srv = OurSwtpm(work, tpm2=True, running=False,
                   extra=["--flags", "not-need-init,startup-clear"])
    try:
        tpm2(srv, "tpm2_nvread", "-C", "o", "0x1c00002", "-o",
             work / "ek.der")
    finally:
        srv.stop()
    return work / "ek.der"


def check_ek_cert(lv, tmp_path, permall):
    """The EK certificate verifies against the system CA in
    /var/lib/swtpm-localca (root and intermediate)."""
    for f in ("issuercert.pem", "swtpm-localca-rootca-cert.pem"):
        assert lv.exists(CA_DIR + "/" + f), \
            "swtpm_setup did not use the system CA: no %s/%s\n%s" % (
                CA_DIR, f, lv.diag())
    bundle = tmp_path / "ca.pem"
    bundle.write_bytes(lv.read(CA_DIR + "/issuercert.pem") +
                       lv.read(CA_DIR + "/swtpm-localca-rootca-cert.pem"))
    der = ek_cert(lv, tmp_path, permall)
    res = subprocess.run(["openssl", "verify", "-CAfile", bundle,
                          der_to_pem(der)],
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 0 and ": OK" in res.stdout, "%s%s\n%s" % (
        res.stdout, res.stderr, lv.diag())


@pytest.mark.parametrize("flavor", [
    pytest.param("9", marks=pytest.mark.libvirt_full, id="libvirt9"),
    pytest.param("11", marks=pytest.mark.libvirt_full, id="libvirt11")])
def test_libvirt_persistent_state(daemons, initrd, kernel, tmp_path, cleanup,
                                  flavor):
    """persistent_state='yes': undefine keeps the TPM state, a domain
    defined again with the same UUID reuses it (same EK certificate, so
    the same EK), `undefine --tpm` removes it."""
    lv = daemons(flavor)
    c = Case("tpm-crb", "2.0", attrs=" persistent_state='yes'")
    name = "lv%s-persistent" % flavor
    cleanup.append((lv, name))
    dom_uuid = str(uuid.uuid4())
    xml, console = write_xml(lv, tmp_path, kernel, initrd, name, dom_uuid, c)
    lv.virsh("define", xml)
    lv.virsh("start", name)
    tick = boot_check(lv, name, console, c)
    save_restore(lv, tmp_path, name, console, dom_uuid, c, tick)
    lv.virsh("destroy", name)
    path = state_file(c, dom_uuid)
    ek1 = ek_cert(lv, tmp_path, path).read_bytes()

    lv.virsh("undefine", name)
    assert lv.exists(path), lv.diag(name)
    lv.virsh("define", xml)
    pathlib.Path(console).write_text("")
    lv.virsh("start", name)
    boot_check(lv, name, console, c)
    lv.virsh("destroy", name)
    assert ek_cert(lv, tmp_path, path).read_bytes() == ek1
    lv.virsh("undefine", name, "--tpm")
    assert not lv.exists("/var/lib/libvirt/swtpm/%s" % dom_uuid), \
        lv.diag(name)


@pytest.mark.libvirt_full
def test_libvirt9_rejects_newer_backend(daemons, initrd, kernel, tmp_path):
    """libvirt 9.0 does not know the backend's debug= nor its <source>
    (type 'dir' or 'file'), which is why those cases run on libvirt 11
    only."""
    lv = daemons("9")
    assert lv.version() < (10, 0)
    # The same domain without them passes the schema.
    xml, _ = write_xml(lv, tmp_path, kernel, initrd, "lv9-schema",
                       str(uuid.uuid4()), CASES["tpm2-crb"])
    lv.virsh("define", "--validate", xml)
    lv.virsh("undefine", "lv9-schema")
    for case in ("tpm2-debug", "tpm2-source-dir", "tpm2-source-file"):
        xml, _ = write_xml(lv, tmp_path, kernel, initrd, "lv9-" + case,
                           str(uuid.uuid4()), CASES[case])
        res = lv.virsh("define", "--validate", xml, check=False)
        assert res.returncode != 0 and "validate" in res.stderr, \
            res.stdout + res.stderr


def test_libvirt_ignores_host_mounts(tmp_path_factory, initrd, kernel,
                                     tmp_path):
    """A chroot's /sys (with the host's cgroup mounts) bound under /var,
    as another tool may leave it, does not reach libvirtd's mount table:
    it used to pick that cgroup2 mount and fail every start with `Unable
    to read from '<chroot>/sys/fs/cgroup/unified//cgroup.controllers'`."""
    lv = Libvirtd(tmp_path_factory.mktemp("libvirtd-decoy"), "9",
                  binds=[tmp_path_factory.getbasetemp()], decoy=True)
    try:
        # Only the mounts helpers_libvirt.py made: one cgroup2, no decoy.
        mounts = lv.read("/proc/self/mountinfo").decode()
        assert "/var/tmp/chroot" not in mounts, mounts
        assert mounts.count(" - cgroup2 ") == 1, mounts
        c = CASES["tpm12-tis"]
        name = "lv9-decoy"
        dom_uuid = str(uuid.uuid4())
        xml, console = write_xml(lv, tmp_path, kernel, initrd, name,
                                 dom_uuid, c)
        lv.virsh("define", xml)
        lv.virsh("start", name)
        boot_check(lv, name, console, c)
        lv.virsh("destroy", name)
        lv.virsh("undefine", name, "--tpm")
    finally:
        lv.stop()
