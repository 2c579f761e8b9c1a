# SPDX-License-Identifier: BSD-3-Clause
"""A private libvirtd for tests: Debian's libvirtd 9.0, run as root in its
own mount namespace, with our build dir first on its PATH.

libvirtd as root always uses the system paths (/etc/libvirt,
/var/lib/libvirt, /run/libvirt, /var/log/swtpm, ...) and has no option to
move them.  So the daemon runs under `unshare -m` with overlay mounts on
/etc, /var and /run whose upper layers live in the test's temp dir: it
sees the host's files, but whatever it (or QEMU, swtpm_setup, swtpm)
writes there stays in the temp dir and vanishes with it.  The host's
system files are never touched.  The clients (virsh, the test) stay
outside and reach the daemon through a Unix socket in the temp dir; paths
as libvirt sees them are read with `nsenter`.

What libvirtd needs in a plain root shell without systemd, dbus or udev
(found by trying): the user `libvirt-qemu` it was built for must exist even
when qemu.conf says otherwise; `security_driver = "none"` (no AppArmor or
SELinux here); no cgroup controllers; `namespaces = [ ]`;
`stdio_handler = "file"` (no virtlogd); `swtpm_user`/`swtpm_group` tss as
Debian ships it.  Its complaints about dbus, dnsmasq, dmidecode and
/dev/kvm are harmless.
"""
import os
import pathlib
import signal
import subprocess
import time

from conftest import BIN

VIRSH_TIMEOUT = 120
START_TIMEOUT = 60

# Debian's swtpm-tools ships these; the test adds them (inside the
# namespace only) where a host lacks them.
DEBIAN_CA_FILES = {
    "swtpm_setup.conf":
        "# Program invoked for creating certificates\n"
        "create_certs_tool= /usr/bin/swtpm_localca\n"
        "create_certs_tool_config = /etc/swtpm-localca.conf\n"
        "create_certs_tool_options = /etc/swtpm-localca.options\n"
        "# Comma-separated list (no spaces) of PCR banks to activate by "
        "default\n"
        "active_pcr_banks = sha256\n",
    "swtpm-localca.conf":
        "statedir = /var/lib/swtpm-localca\n"
        "signingkey = /var/lib/swtpm-localca/signkey.pem\n"
        "issuercert = /var/lib/swtpm-localca/issuercert.pem\n"
        "certserial = /var/lib/swtpm-localca/certserial\n",
    "swtpm-localca.options":
        "--platform-manufacturer Fedora\n"
        "--platform-version 2.1\n"
        "--platform-model QEMU\n",
}
CA_DIR = "/var/lib/swtpm-localca"

QEMU_CONF = """\
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
cgroup_controllers = [ ]
namespaces = [ ]
stdio_handler = "file"
swtpm_user = "tss"
swtpm_group = "tss"
"""

NS_SCRIPT = """\
set -e
mount --make-rprivate /
for d in etc var run; do
    mount -t overlay overlay \\
        -o "lowerdir=/$d,upperdir=$ROOT/$d-up,workdir=$ROOT/$d-work" "/$d"
done
exec libvirtd --config "$ROOT/libvirtd.conf" --pid-file "$ROOT/libvirtd.pid"
"""


def _getent(db, name):
    return subprocess.run(["getent", db, name], capture_output=True,
                          timeout=10).returncode == 0


class Libvirtd:
    """One private libvirtd; `virsh()` talks to it, `stop()` ends it and
    everything it started."""

    def __init__(self, root):
        self.root = pathlib.Path(root)
        self.sockdir = self.root / "sock"
        self.log = self.root / "libvirtd.log"
        self.proc = None
        self.mntns = None
        self._prepare()
        self._start()

    def _prepare(self):
        for d in ("etc", "var", "run"):
            (self.root / ("%s-up" % d)).mkdir(parents=True)
            (self.root / ("%s-work" % d)).mkdir()
        self.sockdir.mkdir()
        etc = self.root / "etc-up"
        (etc / "libvirt").mkdir()
        (etc / "libvirt/qemu.conf").write_text(QEMU_CONF)
        if not _getent("passwd", "libvirt-qemu"):
            (etc / "passwd").write_text(
                pathlib.Path("/etc/passwd").read_text() +
                "libvirt-qemu:x:64055:64055::/nonexistent:/usr/sbin/nologin\n")
        if not _getent("group", "libvirt-qemu"):
            (etc / "group").write_text(
                pathlib.Path("/etc/group").read_text() +
                "libvirt-qemu:x:64055:\n")
        for name, text in DEBIAN_CA_FILES.items():
            if not os.path.exists("/etc/" + name):
                (etc / name).write_text(text)
        # The system CA as Debian's package leaves it (empty, owned by
        # tss), whatever earlier runs left in the host's: an opaque upper
        # directory hides the lower one.
        ca = self.root / "var-up" / CA_DIR[len("/var/"):]
        ca.mkdir(parents=True)
        os.chmod(ca, 0o750)
        os.chown(ca, _uid("tss"), 0)
        os.setxattr(ca, "trusted.overlay.opaque", b"y")
        (self.root / "libvirtd.conf").write_text(
            'unix_sock_dir = "%s"\n'
            'auth_unix_ro = "none"\n'
            'auth_unix_rw = "none"\n'
            'log_outputs = "3:file:%s"\n' % (self.sockdir, self.log))
        (self.root / "ns.sh").write_text(NS_SCRIPT)

    def _start(self):
        env = {"PATH": "%s:/usr/sbin:/usr/bin:/sbin:/bin" % BIN,
               "HOME": "/root", "LC_ALL": "C", "ROOT": str(self.root)}
        self.out = open(self.root / "libvirtd.out", "wb")
        self.proc = subprocess.Popen(
            ["unshare", "-m", "sh", str(self.root / "ns.sh")], env=env,
            stdin=subprocess.DEVNULL, stdout=self.out, stderr=self.out)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if self.mntns is None:
                # Only once unshare has made the new namespace.
                ns = _mntns(self.proc.pid)
                if ns is not None and ns != _mntns(os.getpid()):
                    self.mntns = ns
            if (self.sockdir / "libvirt-sock").exists():
                if self.virsh("version", check=False).returncode == 0:
                    return
            time.sleep(0.2)
        diag = self.diag()
        self.stop()
        raise AssertionError("libvirtd did not come up\n" + diag)

    def uri(self):
        return "qemu:///system?socket=%s/libvirt-sock" % self.sockdir

    def virsh(self, *args, check=True, timeout=VIRSH_TIMEOUT):
        argv = ["virsh", "-q", "-c", self.uri()] + [str(a) for a in args]
        try:
            res = subprocess.run(argv, capture_output=True, text=True,
                                 timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise AssertionError("timed out: %s\n%s" % (argv, self.diag()))
        if check:
            assert res.returncode == 0, "%s: exit %d\n%s%s\n%s" % (
                argv, res.returncode, res.stdout, res.stderr, self.diag())
        return res

    def ns(self, *argv, check=True):
        """Run argv in libvirtd's mount namespace (its view of files)."""
        res = subprocess.run(["nsenter", "-t", str(self.proc.pid), "-m",
                              "--"] + [str(a) for a in argv],
                             capture_output=True, timeout=30)
        if check:
            assert res.returncode == 0, "%s: %s" % (argv, res.stderr)
        return res

    def exists(self, path):
        return self.ns("test", "-e", path, check=False).returncode == 0

    def read(self, path):
        return self.ns("cat", path).stdout

    def pids(self):
        """Processes in libvirtd's mount namespace (QEMU, swtpm, ...)."""
        out = []
        if self.mntns is None or self.mntns == _mntns(os.getpid()):
            return out
        for p in os.listdir("/proc"):
            if p.isdigit() and _mntns(int(p)) == self.mntns:
                out.append(int(p))
        return out

    def exe_of(self, pid):
        try:
            return os.readlink("/proc/%d/exe" % pid)
        except OSError:
            return ""

    def cmdline_of(self, pid):
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                return f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            return ""

    def diag(self, domain=None):
        """libvirtd's log, and the QEMU, swtpm and console logs."""
        parts = []

        def add(title, path):
            try:
                text = pathlib.Path(path).read_text(errors="replace")
            except OSError:
                return
            parts.append("==== %s\n%s" % (title, text[-6000:]))

        add("libvirtd.log", self.log)
        add("libvirtd stdout/stderr", self.root / "libvirtd.out")
        for sub in ("log/libvirt/qemu", "log/swtpm/libvirt/qemu"):
            d = self.root / "var-up" / sub
            if d.is_dir():
                for f in sorted(d.iterdir()):
                    if domain is None or f.name.startswith(domain):
                        add("/var/%s/%s" % (sub, f.name), f)
        for f in sorted(self.root.glob("*.console")):
            if domain is None or f.name.startswith(domain):
                add("console " + f.name, f)
        return "\n".join(parts)

    def stop(self):
        """Undefine every domain and secret, stop libvirtd, kill what is
        left in its namespace."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            for args in (("destroy",), ("undefine", "--tpm", "--nvram")):
                res = self.virsh("list", "--all", "--name", check=False,
                                 timeout=30)
                for name in res.stdout.split():
                    self.virsh(*args, name, check=False, timeout=60)
            res = self.virsh("secret-list", check=False, timeout=30)
            for line in res.stdout.splitlines():
                if line.split():
                    self.virsh("secret-undefine", line.split()[0],
                               check=False, timeout=30)
        leftovers = [p for p in self.pids() if p != self.proc.pid]
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        for p in leftovers + self.pids():
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        self.out.close()
        self.proc = None


def _uid(user):
    import pwd
    return pwd.getpwnam(user).pw_uid


def _mntns(pid):
    try:
        return os.readlink("/proc/%d/ns/mnt" % pid)
    except OSError:
        return None
