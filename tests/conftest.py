"""Test-session set-up: split the CPU into two logical devices, for tests/test_distribute.py.

``tf.distribute`` needs several devices; a CPU-only machine (CI, this one) has one. TensorFlow
can present the CPU as several logical devices, but only before it initialises its devices,
that is before the first TensorFlow op runs. A conftest's pytest_collectstart runs before each
test module is imported, so it is the one place that is early enough for every way of running
the tests (one file, the whole suite, or pytest-xdist workers).

The other tests are not affected: their ops still run on ``/cpu:0`` with the same kernels and
thread pools. Measured on four training tests of tests/test_training.py: 14.6 s with one
device, 14.1 s with two.
"""

import sys
from pathlib import Path

import pytest

LOGICAL_CPUS = 2


def _split_cpu(n: int) -> None:
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * n)
    except RuntimeError:
        # Devices were initialised before this conftest (e.g. by a plugin); test_distribute.py
        # then fails with a message that says so, and every other test runs as usual.
        pass


# Test modules that never touch TensorFlow: collecting only these skips its import (seconds).
WITHOUT_TENSORFLOW = {"test_book.py", "test_jupyterlab.py"}
_cpu_split = False


def pytest_collectstart(collector):
    # Runs before each test module is imported, so before any of its TensorFlow ops. pytest-xdist's
    # controller collects nothing and so never imports TensorFlow; nor does a run of the book's tests.
    global _cpu_split
    if isinstance(collector, pytest.Module) and collector.path.name not in WITHOUT_TENSORFLOW and not _cpu_split:
        _split_cpu(LOGICAL_CPUS)
        _cpu_split = True


@pytest.fixture(scope="session")
def twos():
    """The training 2s of whatever MNIST gan_utils finds, float32 (N, 28, 28, 1) in [0, 1]."""
    from gan_utils import data

    images, _ = data.load_mnist(digits=2, value_range="sigmoid", verbose=False)
    return images


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium through Playwright (tools/book_browser.py); the test is skipped without it."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
    import book_browser

    if not book_browser.CHROMIUM.exists():
        pytest.skip(book_browser.MISSING_CHROMIUM)
    pytest.importorskip("playwright.sync_api")
    with book_browser.launch_chromium() as chromium:
        yield chromium
