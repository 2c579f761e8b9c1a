# SPDX-License-Identifier: BSD-3-Clause
"""Every man page renders without a groff warning at the widths a terminal
has (a "cannot adjust line" means a line runs past the right margin), and
every tool has one."""
import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
PAGES = sorted((ROOT / "man").glob("*.[58]"))
TOOLS = ["swtpm", "swtpm_cuse", "swtpm_ioctl", "swtpm_bios", "swtpm_setup",
         "swtpm_cert", "swtpm_localca"]


def test_every_tool_has_a_man_page():
    names = {p.name for p in PAGES}
    assert [t for t in TOOLS if t + ".8" not in names] == []


@pytest.mark.parametrize("width", [80, 100])
@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_man_page_renders_without_warnings(page, width):
    p = subprocess.run(["man", "--warnings", "-l", str(page)],
                       env=dict(os.environ, MANWIDTH=str(width),
                                LANG="C.UTF-8", MAN_KEEP_FORMATTING="0"),
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip(), "%s rendered nothing" % page.name
    assert p.stderr == "", p.stderr
