"""DiffAugment's random shift, and the engine's use of it."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from gan_utils import augment, data, models, training


def _dots(n, row=10, col=13):
    """``n`` black images (-1) with one white pixel (+1) at (row, col)."""
    images = np.full((n, 28, 28, 1), -1.0, np.float32)
    images[:, row, col, 0] = 1.0
    return images


def _dot_positions(images):
    return np.array([np.argwhere(image[..., 0] == 1.0)[0] for image in np.asarray(images)])


def test_each_image_moves_by_its_own_shift_within_the_limit():
    shifted = augment.random_shift(_dots(400), 2, keras.random.SeedGenerator(0))
    moves = _dot_positions(shifted) - (10, 13)
    assert np.abs(moves).max() == 2
    assert {tuple(m) for m in moves} == {(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)}
    # Nothing else changes: one white pixel, background elsewhere.
    assert np.all(np.sort(np.asarray(shifted).reshape(400, -1), axis=1)[:, :-1] == -1.0)


def test_pixels_shifted_in_repeat_the_edge_and_keep_the_range():
    images = np.linspace(-1, 1, 4 * 28 * 28, dtype=np.float32).reshape(4, 28, 28, 1)
    shifted = np.asarray(augment.random_shift(images, 3, 7))
    assert shifted.shape == images.shape and shifted.dtype == np.float32
    assert set(np.unique(shifted)) <= set(np.unique(images))


def test_zero_shift_is_the_identity_and_a_seed_repeats():
    images = _dots(8)
    assert augment.random_shift(images, 0, 1) is images
    first = augment.random_shift(images, 2, keras.random.SeedGenerator(5))
    again = augment.random_shift(images, 2, keras.random.SeedGenerator(5))
    np.testing.assert_array_equal(first, again)


def test_the_gradient_passes_through_to_the_images():
    """G learns through the augmentation: every output pixel's gradient lands on some input pixel."""
    images = tf.constant(np.random.default_rng(0).uniform(-1, 1, (6, 28, 28, 1)).astype(np.float32))
    with tf.GradientTape() as tape:
        tape.watch(images)
        total = tf.reduce_sum(augment.random_shift(images, 2, 3))
    gradient = tape.gradient(total, images)
    assert gradient is not None
    assert float(tf.reduce_sum(gradient)) == pytest.approx(6 * 28 * 28)


@pytest.mark.parametrize("bad", [-1, 1.5, "2", True])
def test_a_bad_shift_is_a_clear_error(bad):
    with pytest.raises(ValueError, match="whole number of pixels >= 0"):
        augment.random_shift(_dots(2), bad, 0)
    with pytest.raises(ValueError, match="whole number of pixels >= 0"):
        training.GAN(models.mlp_generator(), models.mlp_discriminator(), augment_shift=bad)


def test_d_sees_shifted_images_in_training():
    """With augment_shift, the logits D trains on are those of shifted images, real and fake alike."""
    keras.utils.set_random_seed(0)
    images = _dots(16)
    plain = training.GAN(models.dcgan_generator(), models.dcgan_discriminator(), seed=3)
    shifted = training.GAN(plain.generator, plain.discriminator, augment_shift=2, seed=3)
    np.testing.assert_allclose(plain._d_logits(images, None), plain.discriminator(images, training=True), atol=1e-6)
    expected = plain.discriminator(augment.random_shift(images, 2, keras.random.SeedGenerator(3)), training=True)
    np.testing.assert_allclose(shifted._d_logits(images, None), expected, atol=1e-6)


def test_an_augmented_dcgan_trains():
    keras.utils.set_random_seed(0)
    images, _ = data.load_mnist(value_range="tanh", verbose=False)
    gan = training.GAN(models.dcgan_generator(), models.dcgan_discriminator(), augment_shift=2, seed=0)
    gan.compile(d_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5), g_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5))
    d_before = [w.copy() for w in gan.discriminator.get_weights()]
    history = gan.fit(data.as_dataset(images, batch_size=32).repeat(), epochs=1, steps_per_epoch=60, verbose=0)
    assert all(np.isfinite(v[-1]) for v in history.history.values()), history.history
    assert all(not np.allclose(a, b) for a, b in zip(d_before, gan.discriminator.get_weights()))
    assert history.history["d_real"][-1] > 0.5 > history.history["d_fake"][-1], history.history
