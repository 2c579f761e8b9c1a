# SPDX-License-Identifier: BSD-3-Clause
"""`make install` and `make uninstall` (README.md "Installation"): the
installed tools run from where they were installed (versions, help, a
socket TPM driven by the installed swtpm_ioctl), man pages render, config
files match swtpm_setup --create-config-files and are never overwritten,
and uninstall leaves nothing of ours behind."""
import os
import pathlib
import re
import shutil
import subprocess

import pytest

from conftest import ROOT

BUILD = os.environ.get("BUILD", "build")
TOOLS = sorted(p.parent.name for p in (ROOT / "src").glob("*/main.c")
               if p.parent.name != "common")


def bin_name(t):
    return "swtpm" if t == "swtpm" else "swtpm_" + t


def make(*args):
    p = subprocess.run(["make", "-s", "-C", str(ROOT), "BUILD=" + BUILD]
                       + list(args), capture_output=True, text=True,
                       timeout=600)
    assert p.returncode == 0, "make %s\n%s%s" % (" ".join(args), p.stdout,
                                                 p.stderr)
    return p.stdout


def files_under(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if not p.is_dir())


def dirs(tmp):
    d = {"PREFIX": tmp / "usr", "SYSCONFDIR": tmp / "etc",
         "LOCALSTATEDIR": tmp / "var"}
    return ["%s=%s" % kv for kv in d.items()]


def test_install_runs_from_prefix_and_uninstall_cleans(tmp_path):
    make("install", *dirs(tmp_path))
    bindir = tmp_path / "usr/bin"
    for t in TOOLS:
        assert (bindir / bin_name(t)).is_file(), t
    run = lambda *a, **kw: subprocess.run(
        [str(x) for x in a], capture_output=True, text=True, timeout=60,
        **kw)
    assert run(bindir / "swtpm", "--version").returncode == 0
    assert run(bindir / "swtpm_cuse", "--version").returncode == 0
    assert run(bindir / "swtpm_ioctl", "--version").returncode == 0
    for t in ("swtpm", "swtpm_cuse", "swtpm_ioctl", "swtpm_setup",
              "swtpm_bios"):
        p = run(bindir / t, "--help" if t != "swtpm_bios" else "-h")
        assert p.returncode == 0 and p.stdout, t

    # A socket TPM and the installed control client.
    st = tmp_path / "state"
    st.mkdir()
    ctrl = tmp_path / "ctrl.sock"
    proc = subprocess.Popen(
        [str(bindir / "swtpm"), "socket", "--tpm2", "--tpmstate",
         "dir=%s" % st, "--ctrl", "type=unixio,path=%s" % ctrl,
         "--pid", "file=%s" % (tmp_path / "pid")])
    try:
        for _ in range(200):
            if (tmp_path / "pid").exists():
                break
            assert proc.poll() is None
            subprocess.run(["sleep", "0.05"])
        p = run(bindir / "swtpm_ioctl", "--unix", ctrl, "-i")
        assert p.returncode == 0, p.stderr
        p = run(bindir / "swtpm_ioctl", "--unix", ctrl, "-s")
        assert p.returncode == 0, p.stderr
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()

    # Man pages, man5 included, render without macro or input warnings.
    mandir = tmp_path / "usr/share/man"
    pages = sorted(mandir.rglob("*.[58]"))
    assert {p.name for p in pages} >= {
        "swtpm.8", "swtpm_setup.8", "swtpm_setup.conf.5",
        "swtpm-localca.conf.5", "swtpm-localca.options.5"}
    for page in pages:
        p = run("man", "--warnings=mac,right-brace,missing,input", "-l", page,
                env=dict(os.environ, MANPAGER="cat", MANWIDTH="80"))
        assert p.returncode == 0 and p.stdout, page
        # Only layout notes about long option lines at 80 columns may show.
        bad = [ln for ln in p.stderr.splitlines()
               if ln and "cannot adjust line" not in ln
               and "cannot break line" not in ln]
        assert bad == [], "%s: %s" % (page, p.stderr)

    # The system config equals what --create-config-files writes for a
    # user, with the user's config dir replaced by SYSCONFDIR.
    etc = tmp_path / "etc"
    user = tmp_path / "home"
    root = ["--root"] if os.geteuid() == 0 else []
    p = run(tmp_path / "usr/share/swtpm/swtpm-create-user-config-files",
            *root, env=dict(os.environ, XDG_CONFIG_HOME=str(user)))
    assert p.returncode == 0, p.stdout + p.stderr
    assert "Writing %s/swtpm_setup.conf." % user in p.stdout
    mine = (user / "swtpm_setup.conf").read_text()
    assert (etc / "swtpm_setup.conf").read_text() == \
        mine.replace(str(user), str(etc))
    assert (etc / "swtpm-localca.conf").read_text() == (
        (user / "swtpm-localca.conf").read_text()
        .replace(str(user) + "/var", str(tmp_path / "var")))
    assert "--platform-model" in (etc / "swtpm-localca.options").read_text()
    p = run(tmp_path / "usr/share/swtpm/swtpm-create-user-config-files",
            "--bogus")
    assert p.returncode == 1 and "Unknown option --bogus" in p.stderr
    p = run(tmp_path / "usr/share/swtpm/swtpm-create-user-config-files",
            *root, env=dict(os.environ, XDG_CONFIG_HOME=str(user)))
    assert p.returncode == 1                     # files exist already
    p = run(tmp_path / "usr/share/swtpm/swtpm-create-user-config-files",
            *root, "--skip-if-exist",
            env=dict(os.environ, XDG_CONFIG_HOME=str(user)))
    assert p.returncode == 0, p.stderr

    assert "u tss " in (tmp_path / "usr/lib/sysusers.d/swtpm.conf"
                        ).read_text()
    assert ("d %s/lib/swtpm-localca 0750 tss root" % (tmp_path / "var")
            in (tmp_path / "usr/lib/tmpfiles.d/swtpm.conf").read_text())
    aa = (etc / "apparmor.d/swtpm").read_text()
    assert "profile swtpm %s/swtpm " % bindir in aa
    # What an installed file points a reader to in this project exists.
    root = pathlib.Path(__file__).resolve().parents[2]
    for f in files_under(tmp_path):
        if f.startswith(("usr/bin/", "home/", "state/")):
            continue
        text = (tmp_path / f).read_text(errors="replace")
        for ref in re.findall(r"\b(?:tests|docs|data|src)/[\w./-]*\w", text):
            assert (root / ref).exists(), "%s names missing %s" % (f, ref)
    if shutil.which("apparmor_parser"):
        p = run("apparmor_parser", "-Q", "-K", "-T", etc / "apparmor.d/swtpm")
        assert p.returncode == 0, p.stderr

    make("uninstall", *dirs(tmp_path))
    left = [f for f in files_under(tmp_path)
            if not f.startswith(("home/", "state/"))]
    assert left == []


def test_install_keeps_existing_config_and_destdir(tmp_path):
    dest = tmp_path / "dest"
    etc = dest / "etc"
    etc.mkdir(parents=True)
    (etc / "swtpm_setup.conf").write_text("active_pcr_banks = sha384\n")
    make("install", "DESTDIR=%s" % dest, "PREFIX=/usr")
    assert (etc / "swtpm_setup.conf").read_text() == \
        "active_pcr_banks = sha384\n"
    conf = (etc / "swtpm-localca.conf").read_text()
    assert conf.startswith("statedir = /var/lib/swtpm-localca\n")
    assert str(dest) not in "".join(
        p.read_text(errors="replace") for p in dest.rglob("*")
        if p.is_file() and "bin" not in p.parts)
    assert "exec /usr/bin/swtpm_setup --create-config-files" in (
        dest / "usr/share/swtpm/swtpm-create-user-config-files").read_text()
    make("uninstall", "DESTDIR=%s" % dest, "PREFIX=/usr")
    # The changed config file stays; nothing else does.
    assert files_under(dest) == ["etc/swtpm_setup.conf"]
