# SPDX-License-Identifier: BSD-3-Clause
"""swtpm_cuse's command line: help/version/capabilities, every option
with bad values (exit codes of docs/cli.md §5), --pid, --log, -r, --seccomp,
--flags and --print-states."""
import json
import os
import socket
import subprocess

import pytest

from conftest import tool
from helpers_cuse import (TPM12_GETRANDOM_8, TPM2_GETRANDOM_8, CuseTPM,
                          cuse_tpm, rc_of, tpm2_ok)

pytestmark = pytest.mark.cuse


def run(args, **kw):
    return subprocess.run([tool("swtpm_cuse")] + args, capture_output=True,
                          text=True, timeout=30, **kw)


def test_help_and_version():
    p = run(["--help"])
    assert p.returncode == 0 and "--tpmstate" in p.stdout
    p = run(["-v"])
    assert p.returncode == 0
    assert p.stdout.startswith("TPM emulator CUSE interface version")


def test_print_capabilities():
    caps = json.loads(run(["--print-capabilities"]).stdout)
    assert caps["type"] == "swtpm"
    assert "cmdarg-seccomp" in caps["features"]
    assert "tpm-send-command-header" not in caps["features"]
    caps2 = json.loads(run(["--print-capabilities", "--tpm2"]).stdout)
    assert "rsa-keysize-2048" in caps2["features"]


@pytest.mark.parametrize("args,code,msg", [
    ([], 254, "missing device name"),
    (["-n", "x/y", "--tpmstate", "dir=/tmp"], 255, "invalid device name"),
    (["-n", "v", "-M", "70000", "--tpmstate", "dir=/tmp"], 255, "major"),
    (["-n", "v", "-m", "abc", "--tpmstate", "dir=/tmp"], 255, "minor"),
    (["-n", "v", "--tpmstate", "dir=/tmp,bogus=1"], 253, "bogus"),
    (["-n", "v", "--tpmstate", "mode=0600"], 253, "dir="),
    (["-n", "v", "--tpmstate", "dir=/tmp,mode=999"], 253, "mode"),
    (["-n", "v", "--tpmstate", "backend-uri=nbd://x"], 253, "nbd://"),
    (["-n", "v", "--tpmstate", "dir=/tmp", "--log", "level=2,bogus=1"],
     253, "bogus"),
    (["-n", "v", "--tpmstate", "dir=/tmp", "--log", "file=/x,level=z"],
     253, "level"),
    (["-n", "v", "--tpmstate", "dir=/tmp", "--locality", "foo"], 253,
     "foo"),
    (["-n", "v", "--tpmstate", "dir=/tmp", "--flags", "startup-now"], 253,
     "startup-now"),
    (["-n", "v", "--tpmstate", "dir=/tmp", "--tpm2", "--flags",
      "startup-deactivated"], 253, "only valid for a TPM 1.2"),
    (["-n", "v", "--tpmstate", "dir=/tmp", "--seccomp", "action=maybe"],
     253, "maybe"),
    (["-n", "v", "--tpmstate", "dir=/tmp", "--pid", "path=/x"], 253,
     "path"),
    (["-n", "v", "--tpmstate", "dir=/tmp", "--migration", "outgoing"], 253,
     "outgoing"),
    (["-n", "v", "--tpmstate", "dir=/tmp", "-r", "no-such-user-x"], 251,
     "no-such-user-x"),
    (["-n", "v", "--tpmstate", "dir=/tmp", "stray"], 1, "stray"),
    (["-n", "v", "--tpmstate", "dir=/tmp", "--no-such-option"], 1, ""),
])
def test_bad_options(args, code, msg):
    env = dict(os.environ)
    env.pop("TPM_PATH", None)
    p = run(args, env=env)
    assert p.returncode == code, p.stderr
    assert msg in p.stderr
    assert not os.path.exists("/dev/v")


def test_no_state_dir(tmp_path):
    env = dict(os.environ)
    env.pop("TPM_PATH", None)
    p = run(["-n", "vtpm-nostate"], env=env)
    assert p.returncode == 255 and "TPM_PATH" in p.stderr


def test_tpm_path_env(tmp_path):
    state = tmp_path / "envstate"
    state.mkdir()
    name = "vtpm-env%d" % os.getpid()
    env = dict(os.environ, TPM_PATH=str(state))
    p = run(["-n", name, "--tpm2", "--flags", "startup-clear", "--pid",
             "file=%s/pid" % tmp_path], env=env)
    assert p.returncode == 0, p.stderr
    try:
        assert (state / "tpm2-00.permall").exists()
    finally:
        from helpers_cuse import Dev
        with Dev("/dev/" + name) as d:
            d.res("SHUTDOWN")


@pytest.mark.parametrize("key", [
    "file=/nonexistent/key", "file=%(tmp)s/short.key", "fd=99",
    "file=%(tmp)s/short.key,mode=aes-512-cbc", "pwdfile=/nonexistent"])
def test_bad_keys(tmp_path, key):
    (tmp_path / "short.key").write_text("abcd")
    t = CuseTPM(tmp_path, extra=["--key", key % {"tmp": tmp_path}])
    p = t.start(check=False)
    assert p.returncode != 0
    assert "--key" in p.stderr
    assert not os.path.exists(t.dev)
    assert os.listdir(t.state) in ([], [".lock"])


def test_device_exists(tmp_path):
    with cuse_tpm(tmp_path) as t:
        t2 = CuseTPM(tmp_path, name=t.name)
        p = t2.start(check=False)
        assert p.returncode == 255 and "already exists" in p.stderr


def test_pid_and_log_files(tmp_path):
    with cuse_tpm(tmp_path, log_level=2) as t:
        with open(t.pidfile) as f:
            assert f.read() == str(t.pid)
        assert os.stat(t.log).st_mode & 0o777 == 0o600
        assert "is ready" in t.read_log()
    assert not os.path.exists(t.pidfile)


def test_log_prefix_and_level5_libtpms_debug(tmp_path):
    t = CuseTPM(tmp_path, tpm2=False)    # libtpms' 1.2 code logs much
    t.args[t.args.index("--log") + 1] = "file=%s,level=5,prefix=XY:" % t.log
    t.start()
    try:
        with t.open() as d:
            assert d.init() == 0
    finally:
        t.stop()
    log = t.read_log()
    assert log.startswith("XY:")
    assert "XY:    " in log        # libtpms' own debug lines


def proc_status(pid):
    with open("/proc/%d/status" % pid) as f:
        return dict(line.split(":", 1) for line in f.read().splitlines())


def test_runas_drops_privileges(tmp_path):
    os.chmod(tmp_path, 0o777)
    state = tmp_path / "st"
    state.mkdir()
    os.chown(state, 65534, 65534)
    with cuse_tpm(tmp_path, state=state, extra=["-r", "nobody"]) as t:
        st = proc_status(t.pid)
        assert st["Uid"].split() == ["65534"] * 4
        assert st["Gid"].split() == ["65534"] * 4
        assert st["NoNewPrivs"].strip() == "1"
        assert st["Seccomp"].strip() == "2"
        with t.open() as d:
            assert d.init() == 0
        tpm2_ok(["tpm2_startup", "-c"], t.dev)
        tpm2_ok(["tpm2_getrandom", "8"], t.dev)


def test_seccomp_none_and_log(tmp_path):
    for action, mode in (("none", "0"), ("log", "2"), ("kill", "2")):
        with cuse_tpm(tmp_path, extra=["--seccomp", "action=" + action]) \
                as t:
            assert proc_status(t.pid)["Seccomp"].strip() == mode
            with t.open() as d:
                assert d.init() == 0


def test_flags_startup_clear(tmp_path):
    with cuse_tpm(tmp_path, extra=["--flags", "startup-clear"]) as t:
        with t.open() as d:
            # usable without INIT or Startup
            assert rc_of(d.cmd(TPM2_GETRANDOM_8)) == 0


def test_flags_not_need_init(tmp_path):
    with cuse_tpm(tmp_path, extra=["--flags", "not-need-init"]) as t:
        with t.open() as d:
            # running but not started: TPM_RC_INITIALIZE
            assert rc_of(d.cmd(TPM2_GETRANDOM_8)) == 0x100


def test_flags_startup_tpm12_deactivated(tmp_path):
    with cuse_tpm(tmp_path, tpm2=False,
                  extra=["--flags", "startup-deactivated"]) as t:
        with t.open() as d:
            assert rc_of(d.cmd(TPM12_GETRANDOM_8)) == 0x6   # TPM_DEACTIVATED


def test_print_states(tmp_path):
    state = tmp_path / "st"
    with cuse_tpm(tmp_path, state=state, extra=["--flags",
                                                "startup-clear"]):
        pass
    p = run(["--print-states", "--tpm2", "--tpmstate", "dir=%s" % state])
    assert p.returncode == 0 and not p.stdout.endswith("\n")
    states = json.loads(p.stdout)["states"]
    assert [s["name"] for s in states] == ["permall"]
    assert states[0]["size"] == os.path.getsize(state / "tpm2-00.permall")


def test_chroot_confines_the_daemon(tmp_path):
    jail = tmp_path / "jail"
    jail.mkdir()
    with cuse_tpm(tmp_path, extra=["-R", str(jail), "-r", "0"]) as t:
        assert os.readlink("/proc/%d/root" % t.pid) == str(jail)
        with t.open() as d:
            assert d.init() == 0        # state via the pre-opened dir fd
        tpm2_ok(["tpm2_startup", "-c"], t.dev)
        tpm2_ok(["tpm2_getrandom", "8"], t.dev)
    p = run(["-n", "vtpm-badjail", "--tpmstate", "dir=%s" % tmp_path,
             "-R", str(tmp_path / "missing")])
    assert p.returncode != 0 and "chroot" in p.stderr
    assert not os.path.exists("/dev/vtpm-badjail")


@pytest.mark.parametrize("how", ["file", "fd"])
def test_chroot_writes_and_removes_the_pid_file(tmp_path, how):
    # -R with --pid: the file holds the daemon's pid while it runs, and
    # CMD_SHUTDOWN removes it; with fd=, the file behind the descriptor.
    jail = tmp_path / "jail"
    jail.mkdir()
    pidpath = tmp_path / ("by-%s.pid" % how)
    t = CuseTPM(tmp_path, extra=["-R", str(jail)])
    fds = ()
    if how == "fd":
        pidf = open(pidpath, "w")
        fds = (pidf.fileno(),)
        t.args[t.args.index("--pid") + 1] = "fd=%d" % pidf.fileno()
    else:
        t.args[t.args.index("--pid") + 1] = "file=%s" % pidpath
    p = subprocess.run(t.args, capture_output=True, text=True, timeout=60,
                       pass_fds=fds)
    if how == "fd":
        pidf.close()
    assert p.returncode == 0, p.stderr + t.read_log()
    t.pid = int(pidpath.read_text())
    try:
        assert os.readlink("/proc/%d/root" % t.pid) == str(jail)
        with t.open() as d:
            assert d.init() == 0
    finally:
        t.stop()
        t.kill()
    assert not pidpath.exists()
    assert not (jail / pidpath.relative_to("/")).exists()


def test_foreground_mode(tmp_path):
    import time
    t = CuseTPM(tmp_path, extra=["-f"])
    proc = subprocess.Popen(t.args, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(250):
            if os.path.exists(t.dev) and os.path.exists(t.pidfile):
                break
            time.sleep(0.02)
        with open(t.pidfile) as f:
            assert int(f.read()) == proc.pid     # no fork
        with t.open() as d:
            assert d.init() == 0
            assert d.res("SHUTDOWN") == 0
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_pid_and_log_by_fd_and_key_by_fd(tmp_path):
    """--pid fd=, --log fd= and --key fd=: descriptors handed over by the
    caller (as libvirt does)."""
    state = tmp_path / "st"
    state.mkdir()
    name = "vtpm-fd%d" % os.getpid()
    pidf = open(tmp_path / "pid", "w+")
    logf = open(tmp_path / "log", "w+")
    kr, kw = os.pipe()
    os.write(kw, b"66" * 16)
    os.close(kw)
    args = [tool("swtpm_cuse"), "-n", name, "--tpm2",
            "--tpmstate", "dir=%s" % state,
            "--pid", "fd=%d" % pidf.fileno(),
            "--log", "fd=%d,level=2" % logf.fileno(),
            "--key", "fd=%d" % kr, "--flags", "startup-clear"]
    p = subprocess.run(args, capture_output=True, text=True, timeout=30,
                       pass_fds=(pidf.fileno(), logf.fileno(), kr))
    os.close(kr)
    assert p.returncode == 0, p.stderr
    from helpers_cuse import Dev
    try:
        pid = int((tmp_path / "pid").read_text())
        assert os.path.exists("/proc/%d" % pid)
        with Dev("/dev/" + name) as d:
            assert d.get_config() == (0, 1)     # the key from the fd
    finally:
        with Dev("/dev/" + name) as d:
            d.res("SHUTDOWN")
    assert "is ready" in (tmp_path / "log").read_text()


def test_key_remove_deletes_the_key_file(tmp_path):
    key = tmp_path / "once.key"
    key.write_text("77" * 16)
    with cuse_tpm(tmp_path, extra=["--key", "file=%s,remove" % key]) as t:
        assert not key.exists()
        with t.open() as d:
            assert d.get_config() == (0, 1)


def test_explicit_major_minor_and_backend_uri(tmp_path):
    state = tmp_path / "st"
    t = CuseTPM(tmp_path, state=state, extra=["-M", "241", "-m", "7"])
    t.args[t.args.index("--tpmstate") + 1] = "backend-uri=dir://%s" % state
    t.start()
    try:
        st = os.stat(t.dev)
        assert (os.major(st.st_rdev), os.minor(st.st_rdev)) == (241, 7)
        with t.open() as d:
            assert d.init() == 0
    finally:
        t.stop()
    assert (state / "tpm2-00.permall").exists()


def test_chroot_with_named_runas_user(tmp_path):
    """-R and -r NAME together: the user is looked up before the chroot
    (the jail has no /etc/passwd)."""
    jail = tmp_path / "jail"
    jail.mkdir()
    os.chmod(tmp_path, 0o777)
    state = tmp_path / "st"
    state.mkdir()
    os.chown(state, 65534, 65534)
    with cuse_tpm(tmp_path, state=state,
                  extra=["-R", str(jail), "-r", "nobody"]) as t:
        st = proc_status(t.pid)
        assert st["Uid"].split() == ["65534"] * 4
        assert os.readlink("/proc/%d/root" % t.pid) == str(jail)
        with t.open() as d:
            assert d.init() == 0


def test_runas_gets_the_state_dir_created_for_it(tmp_path):
    # Upstream creates a missing state directory at INIT, as the --runas
    # user; ours is created at start as root and must go to that user.
    os.chmod(tmp_path, 0o777)
    state = tmp_path / "new"
    # The helper makes its own directory; the later --tpmstate wins.
    with cuse_tpm(tmp_path, extra=["-r", "nobody", "--tpmstate",
                                   "dir=%s" % state]) as t:
        st = os.stat(state)
        assert (st.st_uid, st.st_gid) == (65534, 65534)
        with t.open() as d:
            assert d.init() == 0
        tpm2_ok(["tpm2_startup", "-c"], t.dev)
        assert (state / "tpm2-00.permall").is_file()


def test_notify_socket_gets_ready_once_the_device_serves(tmp_path):
    """$NOTIFY_SOCKET gets READY=1 once, after /dev/NAME answers and the
    state is locked: the socket is connected before seccomp, and the
    message is sent by the daemon after the command returned."""
    addr = str(tmp_path / "notify")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(addr)
    listener.settimeout(10)
    t = CuseTPM(tmp_path, extra=["--flags", "not-need-init,startup-clear"])
    p = subprocess.run(t.args, env=dict(os.environ, NOTIFY_SOCKET=addr),
                       capture_output=True, text=True, timeout=60)
    try:
        assert p.returncode == 0, p.stderr
        with open(t.pidfile) as f:
            t.pid = int(f.read())
        assert listener.recv(4096) == b"READY=1"
        tpm2_ok(["tpm2_getrandom", "8"], t.dev)
        other = CuseTPM(tmp_path, state=t.state)
        second = other.start(check=False)
        assert second.returncode == 255, second.stderr
        assert "cannot lock TPM state directory '%s': it is in use by " \
            "process %d" % (t.state, t.pid) in second.stderr, second.stderr
        # Without --log, swtpm_cuse's lines on stderr carry its own name,
        # not swtpm's.
        args = list(other.args)
        del args[args.index("--log"):args.index("--log") + 2]
        third = subprocess.run(args, capture_output=True, text=True,
                               timeout=60)
        assert third.returncode == 255, third.stderr
        lines = third.stderr.splitlines()
        assert lines and all(ln.startswith("swtpm_cuse: ") for ln in lines), \
            lines
        listener.settimeout(0.5)
        with pytest.raises(socket.timeout):
            listener.recv(4096)
        t.check_log_clean()
    finally:
        t.stop()
        listener.close()
