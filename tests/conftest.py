"""Test-session set-up: split the CPU into two logical devices, for tests/test_distribute.py.

``tf.distribute`` needs several devices; a CPU-only machine (CI, this one) has one. TensorFlow
can present the CPU as several logical devices, but only before it initialises its devices,
that is before the first TensorFlow op runs. A conftest is imported before any test module, so
this is the one place that is early enough for every way of running the tests (one file, the
whole suite, or pytest-xdist workers).

The other tests are not affected: their ops still run on ``/cpu:0`` with the same kernels and
thread pools. Measured on four training tests of tests/test_training.py: 14.6 s with one
device, 14.1 s with two.
"""

import pytest
import tensorflow as tf

LOGICAL_CPUS = 2


def _split_cpu(n: int) -> None:
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * n)
    except RuntimeError:
        # Devices were initialised before this conftest (e.g. by a plugin); test_distribute.py
        # then fails with a message that says so, and every other test runs as usual.
        pass


_split_cpu(LOGICAL_CPUS)


@pytest.fixture(scope="session")
def twos():
    """The training 2s of whatever MNIST gan_utils finds, float32 (N, 28, 28, 1) in [0, 1]."""
    from gan_utils import data

    images, _ = data.load_mnist(digits=2, value_range="sigmoid", verbose=False)
    return images
