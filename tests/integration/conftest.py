# SPDX-License-Identifier: BSD-3-Clause
"""Shared fixtures for the integration suite.

Tests marked `cuse` need a kernel with CUSE and run inside the tests/vm
guest; everything else runs on the host.  Binaries come from $BUILD/bin
(default build/bin) of this checkout.
"""
import os
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = ROOT / os.environ.get("BUILD", "build") / "bin"


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "cuse: needs a CUSE-capable kernel (runs in tests/vm)")


@pytest.fixture(scope="session")
def bindir():
    return BIN


def tool(name):
    """Absolute path of one of our binaries."""
    return str(BIN / name)
