"""Differentiable augmentation for the discriminator (DiffAugment, Zhao et al. 2020).

A discriminator trained on a few thousand images starts to remember them, and then what it
teaches the generator is the training set's particulars rather than what digits look like.
Augmenting the real images alone does not help: G would learn to draw augmented digits.
DiffAugment applies the *same kind* of random transformation to every image D sees, real and
fake, in D's step and in G's step, and keeps it differentiable so that G's gradient passes
through it. D then judges shifted digits and G is still asked for unshifted ones.

Every function takes and returns images ``(batch, height, width, channels)`` of any value range,
and draws its randomness from a ``keras.random.SeedGenerator``, so a seeded run repeats.
"""

from __future__ import annotations

from .backend import require_tensorflow

require_tensorflow()

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import ops  # noqa: E402


def random_shift(images, max_shift: int, seed):
    """Shift each image by its own whole number of pixels, up to ``max_shift`` in each direction.

    Pixels shifted in from outside repeat the edge (MNIST's edges are background). Built from
    two ``gather`` calls, so the gradient reaches the images: G learns through it.

    Args:
        images: ``(batch, height, width, channels)`` float tensor.
        max_shift: the largest shift in pixels, >= 0; each image draws its vertical and horizontal
            shift uniformly from ``-max_shift..max_shift``.
        seed: a ``keras.random.SeedGenerator`` (or an int) for the shifts.

    Returns:
        A tensor of the same shape and range as ``images``.
    """
    check_shift(max_shift)
    if max_shift == 0:
        return images
    shape = ops.shape(images)
    batch, height, width = shape[0], shape[1], shape[2]
    shifts = keras.random.randint((batch, 2), -max_shift, max_shift + 1, seed=seed, dtype="int32")
    rows = ops.clip(ops.arange(height)[None, :] - shifts[:, :1], 0, height - 1)  # (batch, height)
    cols = ops.clip(ops.arange(width)[None, :] - shifts[:, 1:], 0, width - 1)  # (batch, width)
    shifted = tf.gather(images, rows, axis=1, batch_dims=1)
    return tf.gather(shifted, cols, axis=2, batch_dims=1)


def check_shift(max_shift) -> int:
    """``max_shift`` as an int, or a ValueError naming the accepted values."""
    if isinstance(max_shift, bool) or not isinstance(max_shift, int) or max_shift < 0:
        raise ValueError(f"the augmentation shift must be a whole number of pixels >= 0 (0: off, 2 is "
                         f"a good start for 28x28 digits), got {max_shift!r}.")
    return max_shift
