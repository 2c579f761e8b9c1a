# SPDX-License-Identifier: BSD-3-Clause
"""The rule of docs/cli.md §9: a name is printed by --print-capabilities
only when what upstream's consumers do on seeing it works here.  Every
printed name maps to the test that does it (file::function); a name
without one, or a mapping to a test that does not exist, fails.  The
tests below do what the consumers do for names no other file covers."""
import ast
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import ROOT, tool
from helpers_socket import free_port_pair, rc_of
from helpers_swtpm import TPM2_GETRANDOM8, recv_exact

HERE = ROOT / "tests" / "integration"

# Name -> the test that does what consumers (libvirt's virtpm.c and
# qemu_tpm.c, swtpm_setup, systemd, mkosi) do when they see it.
DAEMON = {
    "tpm-1.2": "test_capabilities.py::test_tpm12_firmware_sequence",
    "tpm-2.0": "test_capabilities.py::test_advertised_rsa_key_sizes",
    "tpm-send-command-header": "test_socket_data.py::test_tcg_prefix",
    "flags-opt-startup":
        "test_socket_data.py::test_fd_option_with_socketpair",
    "flags-opt-disable-auto-shutdown":
        "test_capabilities.py::test_disable_auto_shutdown",
    "ctrl-opt-terminate":
        "test_socket_ctrl.py::test_terminate_on_control_loss",
    "cmdarg-seccomp":
        "test_socket_cli.py::test_seccomp_kill_survives_full_session",
    "cmdarg-key-fd": "test_capabilities.py::test_libvirt_key_options",
    "cmdarg-pwd-fd": "test_capabilities.py::test_libvirt_key_options",
    "cmdarg-print-states": "test_socket_cli.py::test_print_states",
    "cmdarg-chroot":
        "test_socket_systemd.py::test_notify_survives_chroot_and_seccomp",
    "cmdarg-migration":
        "test_socket_state_lock.py::"
        "test_released_lock_old_writer_never_overwrites",
    "nvram-backend-dir": "test_capabilities.py::test_backend_uri_dir",
    "nvram-backend-file":
        "test_socket_state_file.py::test_setup_into_file_loads_in_upstream",
    "rsa-keysize-N": "test_capabilities.py::test_advertised_rsa_key_sizes",
    "tpmstate-opt-lock": "test_capabilities.py::test_libvirt_key_options",
    "cmdarg-pcap": "test_socket_pcap.py::test_pcap_fd",
    "systemd-notify":
        "test_socket_systemd.py::test_notify_survives_chroot_and_seccomp",
}

# swtpm_cuse: the same names, held by its own tests where the device
# path differs; the others run the option code the daemons share
# (src/common/daemon_opts.c, daemon_tpm.c) through swtpm socket.
CUSE = dict(DAEMON, **{
    "tpm-1.2": "test_cuse_tpm12.py::test_trousers_flow",
    "tpm-2.0": "test_cuse_tpm2.py::test_tpm2_tools_full_flow",
    "flags-opt-startup": "test_cuse_options.py::test_flags_startup_clear",
    # Upstream lists it for CUSE too, which has no control socket; kept
    # so the list stays upstream's (docs/cli.md §9.1).
    "ctrl-opt-terminate":
        "test_socket_dropin.py::"
        "test_print_capabilities_cuse_lists_ctrl_opt_terminate",
    "cmdarg-seccomp": "test_cuse_options.py::test_seccomp_none_and_log",
    "cmdarg-key-fd":
        "test_cuse_options.py::test_pid_and_log_by_fd_and_key_by_fd",
    "cmdarg-print-states": "test_cuse_options.py::test_print_states",
    "cmdarg-chroot": "test_cuse_options.py::test_chroot_confines_the_daemon",
    "cmdarg-migration":
        "test_cuse_state.py::test_migration_with_migration_key",
    "nvram-backend-dir":
        "test_cuse_options.py::test_explicit_major_minor_and_backend_uri",
    "nvram-backend-file":
        "test_cuse_state.py::"
        "test_file_backend_persists_locks_and_survives_sigkill",
    "tpmstate-opt-lock":
        "test_cuse_state.py::test_lock_false_allows_a_second_reader",
    "cmdarg-pcap": "test_socket_pcap.py::test_cuse_pcap",
    "systemd-notify":
        "test_cuse_options.py::"
        "test_notify_socket_gets_ready_once_the_device_serves",
})

SETUP = {
    "tpm-1.2": "test_setup_tpm12.py::test_tpm12_full",
    "tpm-2.0": "test_setup_tpm2.py::test_full_run_log_and_files",
    "cmdarg-keyfile-fd": "test_setup_tpm2.py::test_keyfile_fd",
    "cmdarg-pwdfile-fd": "test_capabilities.py::test_setup_pwdfile_fd",
    "tpm12-not-need-root":
        "test_capabilities.py::test_setup_tpm12_unprivileged",
    "cmdarg-write-ek-cert-files":
        "test_setup_tpm2.py::test_full_run_log_and_files",
    "cmdarg-create-config-files":
        "test_setup_tpm2.py::test_create_config_files_then_setup",
    "cmdarg-reconfigure-pcr-banks":
        "test_setup_tpm2.py::test_reconfigure_pcr_banks",
    "tpm2-rsa-keysize-2048": "test_setup_tpm2.py::test_full_run_log_and_files",
    "tpm2-rsa-keysize-3072": "test_setup_tpm2.py::test_rsa3072_and_spk",
}

CERT = {
    "cmdarg-signkey-pwd": "test_cert_tool.py::test_signkey_passwords",
}

# Upstream names we do not print, and why (docs/cli.md §9.1, §9.2).
NOT_LISTED = {
    "cmdarg-print-info": "libvirt >= 10.10 then needs --print-info 0x20's "
                         "ActiveProfile: libtpms 0.10",
    "cmdarg-profile": "profiles need libtpms 0.10",
    "cmdarg-print-profiles": "profiles need libtpms 0.10",
    "profile-opt-remove-disabled": "profiles need libtpms 0.10",
    "tpmstate-dir-backend-opt-backup": "accepted, but a missing state file "
                                       "is not restored from .bak",
    "tpmstate-dir-backend-opt-fsync": "accepted (we always sync); no test "
                                      "cuts power with the option given",
    "cmdarg-profile-remove-disabled": "profiles need libtpms 0.10",
    "cmdarg-ek1keyalgo": "not implemented",
    "cmdarg-ek2keyalgo": "not implemented",
    "cmdarg-iakkeyalgo": "not implemented",
    "cmdarg-idevidkeyalgo": "not implemented",
}

PROGRAMS = [
    (["swtpm", "socket"], DAEMON), (["swtpm", "socket", "--tpm2"], DAEMON),
    (["swtpm", "chardev"], DAEMON), (["swtpm", "chardev", "--tpm2"], DAEMON),
    (["swtpm_cuse"], CUSE), (["swtpm_cuse", "--tpm2"], CUSE),
    (["swtpm_setup"], SETUP), (["swtpm_cert"], CERT),
]


def printed(cmd):
    p = subprocess.run([tool(cmd[0])] + cmd[1:] + ["--print-capabilities"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)["features"]


def key_of(name):
    if name.startswith("rsa-keysize-"):
        return "rsa-keysize-N"
    return name


@pytest.mark.parametrize("cmd,table", PROGRAMS,
                         ids=[" ".join(c) for c, _ in PROGRAMS])
def test_every_printed_name_has_a_test(cmd, table):
    names = printed(cmd)
    missing = [n for n in names if key_of(n) not in table]
    assert not missing, "printed without a test: %s" % missing
    assert not [n for n in names if n in NOT_LISTED]


def _test_exists(ref):
    fname, func = ref.split("::")
    path = HERE / fname
    if not path.exists():
        return False
    tree = ast.parse(path.read_text())
    return any(isinstance(n, ast.FunctionDef) and n.name == func
               for n in tree.body)


def test_every_mapped_test_exists():
    refs = set()
    for table in (DAEMON, CUSE, SETUP, CERT):
        refs.update(table.values())
    assert sorted(r for r in refs if not _test_exists(r)) == []


# ---- consumers' command lines ----

def start(argv, pass_fds=(), wait_for=None, timeout=10):
    """Start argv; wait until the path wait_for exists (or it exits)."""
    err = tempfile.TemporaryFile()
    proc = subprocess.Popen([str(a) for a in argv], pass_fds=pass_fds,
                            stdin=subprocess.DEVNULL, stdout=err,
                            stderr=err)
    deadline = time.monotonic() + timeout
    while wait_for and not os.path.exists(wait_for):
        if proc.poll() is not None or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    proc.errfile = err
    return proc


def stderr_of(proc):
    proc.errfile.seek(0)
    return proc.errfile.read().decode(errors="replace")


def stop(proc):
    if proc.poll() is None:
        proc.terminate()
    rc = proc.wait(timeout=10)
    assert "Sanitizer" not in stderr_of(proc)
    return rc


def secret_fd(data):
    """A pipe's read end holding data, as libvirt passes secrets."""
    r, w = os.pipe()
    os.write(w, data)
    os.close(w)
    return r


def tpm_cmd(path, cmd):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(str(path))
    with s:
        s.sendall(cmd)
        resp = recv_exact(s, 10)
        size = int.from_bytes(resp[2:6], "big") if len(resp) == 10 else 10
        return resp + recv_exact(s, size - 10)


def ioctl_shutdown(ctrl):
    p = subprocess.run([tool("swtpm_ioctl"), "--unix", str(ctrl), "-s"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr


def libvirt_argv(work, state, key_opt, extra_flags=""):
    """The options libvirt's qemuTPMEmulatorBuildCommand passes when the
    names are listed (tpmstate-opt-lock: ",lock"; cmdarg-pwd-fd:
    "--key pwdfd=N,mode=aes-256-cbc"), plus a data socket to drive it."""
    argv = [tool("swtpm"), "socket", "--tpm2",
            "--ctrl", "type=unixio,path=%s/ctrl,mode=0600" % work,
            "--server", "type=unixio,path=%s/data" % work,
            "--tpmstate", "dir=%s,mode=0600,lock" % state,
            "--log", "file=%s/log,level=20" % work,
            "--flags", "not-need-init,startup-clear" + extra_flags]
    if key_opt:
        argv += ["--key", key_opt]
    return argv


@pytest.mark.parametrize("kind", ["pwdfd", "fd"])
def test_libvirt_key_options(tmp_path, kind):
    state = tmp_path / "state"
    state.mkdir()
    secret = b"libvirt-secret" if kind == "pwdfd" else os.urandom(32)
    fmt = "" if kind == "pwdfd" else ",format=binary"

    def key_opt(fd):
        return "%s=%d,mode=aes-256-cbc%s" % (kind, fd, fmt)

    fd = secret_fd(secret)
    proc = start(libvirt_argv(tmp_path, state, key_opt(fd)), pass_fds=[fd],
                 wait_for=tmp_path / "data")
    os.close(fd)
    try:
        assert rc_of(tpm_cmd(tmp_path / "data", TPM2_GETRANDOM8)) == 0
        # ,lock: a second instance on the same state is refused.
        other = tmp_path / "other"
        other.mkdir()
        fd2 = secret_fd(secret)
        second = start(libvirt_argv(other, state, key_opt(fd2)),
                       pass_fds=[fd2])
        os.close(fd2)
        assert second.wait(timeout=10) == 1
        assert "lock" in stderr_of(second)
        ioctl_shutdown(tmp_path / "ctrl")
        assert proc.wait(timeout=10) == 0
    finally:
        stop(proc)
    permall = state / "tpm2-00.permall"
    assert os.stat(permall).st_mode & 0o777 == 0o600
    # Encrypted with the secret: without it the state does not load ...
    bare = start(libvirt_argv(tmp_path, state, None))
    assert bare.wait(timeout=10) == 1
    assert "need a different --key" in stderr_of(bare)
    # ... with it, it does.
    fd = secret_fd(secret)
    again = start(libvirt_argv(tmp_path, state, key_opt(fd)), pass_fds=[fd],
                  wait_for=tmp_path / "data")
    os.close(fd)
    try:
        assert rc_of(tpm_cmd(tmp_path / "data", TPM2_GETRANDOM8)) == 0
    finally:
        ioctl_shutdown(tmp_path / "ctrl")
        assert stop(again) == 0


def test_backend_uri_dir(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    argv = [tool("swtpm"), "socket", "--tpm2",
            "--tpmstate", "backend-uri=dir://%s" % state,
            "--ctrl", "type=unixio,path=%s/ctrl" % tmp_path,
            "--server", "type=unixio,path=%s/data" % tmp_path,
            "--flags", "not-need-init,startup-clear"]
    proc = start(argv, wait_for=tmp_path / "data")
    try:
        assert rc_of(tpm_cmd(tmp_path / "data", TPM2_GETRANDOM8)) == 0
        ioctl_shutdown(tmp_path / "ctrl")
    finally:
        assert stop(proc) == 0
    assert (state / "tpm2-00.permall").is_file()
    p = subprocess.run([tool("swtpm"), "socket", "--tpm2", "--tpmstate",
                        "backend-uri=dir://%s" % state, "--print-states"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    names = [s["name"] for s in json.loads(p.stdout)["states"]]
    assert "permall" in names


TPM2_STARTUP_STATE = bytes.fromhex("80010000000c000001440001")


def test_disable_auto_shutdown(tmp_path):
    """Without the flag a SIGTERM sends TPM2_Shutdown(STATE) and the next
    start resumes (test_socket_data.py::
    test_signal_orderly_stop_with_auto_shutdown); with it nothing is
    sent, so Startup(STATE) is refused."""
    state = tmp_path / "state"
    state.mkdir()
    argv = libvirt_argv(tmp_path, state, None, ",disable-auto-shutdown")
    proc = start(argv, wait_for=tmp_path / "data")
    try:
        assert rc_of(tpm_cmd(tmp_path / "data", TPM2_GETRANDOM8)) == 0
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        stop(proc)
    argv = [a.replace(",startup-clear", "") for a in argv]
    proc = start(argv, wait_for=tmp_path / "data")
    try:
        assert rc_of(tpm_cmd(tmp_path / "data", TPM2_STARTUP_STATE)) != 0
    finally:
        ioctl_shutdown(tmp_path / "ctrl")
        assert stop(proc) == 0


def test_advertised_rsa_key_sizes(tmp_path):
    """swtpm_setup --rsa-keysize and tpm2-tools users take the listed sizes
    as ones the TPM creates: each makes an RSA primary; 4096, not listed,
    is refused."""
    sizes = [int(n[len("rsa-keysize-"):]) for n in
             printed(["swtpm", "socket", "--tpm2"])
             if n.startswith("rsa-keysize-")]
    assert sizes and 2048 in sizes
    port = free_port_pair()
    (tmp_path / "state").mkdir()
    argv = [tool("swtpm"), "socket", "--tpm2",
            "--tpmstate", "dir=%s/state" % tmp_path,
            "--server", "type=tcp,port=%d" % port,
            "--ctrl", "type=tcp,port=%d" % (port + 1),
            "--flags", "not-need-init,startup-clear"]
    proc = start(argv)
    tcti = "swtpm:host=127.0.0.1,port=%d" % port
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
                break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None
                time.sleep(0.05)
        for n in sizes + [4096]:
            p = subprocess.run(["tpm2_createprimary", "-T", tcti, "-C", "o",
                                "-G", "rsa%d" % n,
                                "-c", str(tmp_path / ("p%d.ctx" % n))],
                               capture_output=True, text=True, timeout=120)
            assert (p.returncode == 0) == (n in sizes), (n, p.stderr)
            subprocess.run(["tpm2_flushcontext", "-T", tcti, "-t"],
                           capture_output=True, timeout=60)
    finally:
        assert stop(proc) == 0


def run_setup(*args, pass_fds=()):
    return subprocess.run([tool("swtpm_setup")] + [str(a) for a in args],
                          capture_output=True, text=True, timeout=120,
                          pass_fds=pass_fds)


def test_setup_pwdfile_fd(tmp_path):
    """libvirt: swtpm_setup --pwdfile-fd N --cipher aes-256-cbc, then
    swtpm --key pwdfd=M,mode=aes-256-cbc on the state it made."""
    state = tmp_path / "state"
    state.mkdir()
    fd = secret_fd(b"vm-secret")
    p = run_setup("--tpm2", "--tpm-state", state, "--createek",
                  "--config", "/dev/null", "--pwdfile-fd", fd,
                  "--cipher", "aes-256-cbc", pass_fds=[fd])
    os.close(fd)
    assert p.returncode == 0, p.stderr
    argv = libvirt_argv(tmp_path, state, None)
    bare = start(argv)
    assert bare.wait(timeout=10) == 1
    assert "need a different --key" in stderr_of(bare)
    fd = secret_fd(b"vm-secret")
    proc = start(argv + ["--key", "pwdfd=%d,mode=aes-256-cbc" % fd],
                 pass_fds=[fd], wait_for=tmp_path / "data")
    os.close(fd)
    try:
        assert rc_of(tpm_cmd(tmp_path / "data", TPM2_GETRANDOM8)) == 0
    finally:
        ioctl_shutdown(tmp_path / "ctrl")
        assert stop(proc) == 0


def test_setup_tpm12_unprivileged():
    """libvirt runs swtpm_setup for a TPM 1.2 as the unprivileged swtpm
    user when this name is listed (else it needs root)."""
    nobody = 65534
    work = tempfile.mkdtemp(prefix="caps-tpm12-")
    try:
        os.chown(work, nobody, nobody)
        env = {"PATH": os.environ["PATH"], "HOME": work}
        p = subprocess.run(
            ["setpriv", "--reuid=%d" % nobody, "--regid=%d" % nobody,
             "--clear-groups", tool("swtpm_setup"), "--tpm-state", work,
             "--createek", "--config", "/dev/null"],
            capture_output=True, text=True, timeout=120, env=env)
        assert p.returncode == 0, p.stdout + p.stderr
        st = os.stat(os.path.join(work, "tpm-00.permall"))
        assert st.st_uid == nobody
    finally:
        shutil.rmtree(work)


def test_tpm12_firmware_sequence(tmp_path):
    """tpm-1.2: a TPM 1.2 on swtpm socket takes the commands a PC firmware
    sends at boot (swtpm_bios: startup, physical presence, enable,
    activate, self test) without an error, and then serves commands."""
    (tmp_path / "state").mkdir()
    argv = [tool("swtpm"), "socket",
            "--tpmstate", "dir=%s/state" % tmp_path,
            "--ctrl", "type=unixio,path=%s/ctrl" % tmp_path,
            "--server", "type=unixio,path=%s/data" % tmp_path,
            "--flags", "not-need-init"]
    proc = start(argv, wait_for=tmp_path / "data")
    try:
        p = subprocess.run([tool("swtpm_bios"), "--unix",
                            str(tmp_path / "data"), "-cs"],
                           capture_output=True, text=True, timeout=60)
        assert (p.returncode, p.stderr) == (0, ""), p.stdout
        # TPM_GetRandom(8) on the running TPM 1.2.
        resp = tpm_cmd(tmp_path / "data",
                       bytes.fromhex("00c10000000e0000004600000008"))
        assert rc_of(resp) == 0 and len(resp) == 14 + 8
        ioctl_shutdown(tmp_path / "ctrl")
    finally:
        assert stop(proc) == 0
