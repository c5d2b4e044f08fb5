"""Helpers for the GAN notebook series: data, models, training, metrics and plotting.

Each module has one job; notebooks import the ones they need, for example
``from gan_utils import config, data, plotting``. TensorFlow is imported lazily by the
modules that need it, so ``gan_utils.config`` works without it.
"""

__version__ = "0.1.0"
