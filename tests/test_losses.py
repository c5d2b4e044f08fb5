"""Notebook 5's remedies in the engine: hinge and Wasserstein losses, WGAN-GP's and R1's
penalties, spectral normalisation, and the mismatched-pairs share. Each against a known answer."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from gan_utils import data, models, toy2d, training


def _ring_gan(seed=0, **kwargs):
    keras.utils.set_random_seed(seed)
    gan = training.GAN(models.mlp_generator_2d(hidden=32, depth=2),
                       models.mlp_discriminator_2d(hidden=32, depth=2, spectral_norm=kwargs.pop("sn", False)),
                       seed=seed, **kwargs)
    gan.compile(d_optimizer=keras.optimizers.SGD(0.01), g_optimizer=keras.optimizers.SGD(0.01))
    return gan


def _ring_data(n=512):
    return data.as_dataset(toy2d.ring().sample(n, seed=0), batch_size=64, seed=0)


def test_hinge_loss_at_known_logits():
    real, fake = ops.convert_to_tensor([[2.0], [0.5]]), ops.convert_to_tensor([[-3.0], [0.0]])
    # real: max(0, 1 - 2) = 0 and max(0, 1 - 0.5) = 0.5, mean 0.25; fake: 0 and 1, mean 0.5
    assert math.isclose(float(training.hinge_discriminator_loss(real, fake)), 0.75, rel_tol=1e-6)
    zero = ops.zeros((4, 1))
    assert math.isclose(float(training.hinge_discriminator_loss(zero, zero)), 2.0, rel_tol=1e-6)
    assert math.isclose(float(training.score_generator_loss(fake)), 1.5, rel_tol=1e-6)


def test_wasserstein_loss_is_the_gap_between_mean_scores():
    real, fake = ops.convert_to_tensor([[3.0], [1.0]]), ops.convert_to_tensor([[-1.0], [0.0]])
    assert math.isclose(float(training.wasserstein_critic_loss(real, fake)), -0.5 - 2.0, rel_tol=1e-6)


def test_gradient_penalty_is_zero_for_unit_norm_gradients_and_known_otherwise():
    unit = np.zeros((5, 28, 28, 1), np.float32)
    unit[:, 3, 4, 0] = 0.6
    unit[:, 10, 2, 0] = -0.8  # norm 1
    assert float(training.gradient_penalty(unit)) < 1e-10
    doubled = 2.0 * unit  # norm 2: (2 - 1)^2 = 1
    assert math.isclose(float(training.gradient_penalty(doubled)), 1.0, rel_tol=1e-5)
    assert math.isclose(float(training.r1_penalty(doubled)), 4.0, rel_tol=1e-5)


def test_gradient_penalty_of_a_linear_critic_with_unit_slope_is_zero_in_the_engine():
    """A critic D(x) = w.x with |w| = 1 has gradient w everywhere: the engine's penalty is 0."""
    x = keras.Input((2,))
    critic = keras.Model(x, keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros")(x))
    critic.layers[-1].kernel.assign(np.array([[0.6], [0.8]], np.float32))
    gan = training.GAN(models.mlp_generator_2d(hidden=8, depth=1), critic, loss="wasserstein", gradient_penalty=10.0)
    real = tf.constant(toy2d.ring().sample(16, seed=1))
    fake = tf.constant(np.random.default_rng(2).normal(size=(16, 2)).astype(np.float32))
    assert float(gan._with_penalties(tf.constant(0.0), real, None, fake)) < 1e-6
    critic.layers[-1].kernel.assign(np.array([[1.2], [1.6]], np.float32))  # slope 2: penalty 10 * 1
    assert math.isclose(float(gan._with_penalties(tf.constant(0.0), real, None, fake)), 10.0, rel_tol=1e-4)
    gan_r1 = training.GAN(models.mlp_generator_2d(hidden=8, depth=1), critic, r1_penalty=3.0)
    assert math.isclose(float(gan_r1._with_penalties(tf.constant(0.0), real, None, fake)), 0.5 * 3.0 * 4.0,
                        rel_tol=1e-4)


@pytest.mark.parametrize("options", [
    {"loss": "hinge"},
    {"loss": "wasserstein", "gradient_penalty": 10.0, "d_steps": 2},
    {"r1_penalty": 1.0},
    {"loss": "hinge", "sn": True},
    {"loss": "hinge", "update": "simultaneous", "gradient_penalty": 1.0},
])
def test_each_remedy_trains_with_finite_losses_and_moves_both_networks(options):
    gan = _ring_gan(**options)
    g_before = [w.copy() for w in gan.generator.get_weights()]
    d_before = [w.copy() for w in gan.discriminator.get_weights()]
    history = gan.fit(_ring_data().repeat(), epochs=2, steps_per_epoch=5, verbose=0)
    for name, values in history.history.items():
        assert np.all(np.isfinite(values)), name
    assert any(not np.allclose(a, b) for a, b in zip(g_before, gan.generator.get_weights()))
    assert any(not np.allclose(a, b) for a, b in zip(d_before, gan.discriminator.get_weights()))


def test_the_penalty_changes_d_s_update():
    plain, penalised = _ring_gan(loss="wasserstein"), _ring_gan(loss="wasserstein", gradient_penalty=10.0)
    for gan in (plain, penalised):
        gan.fit(_ring_data(), epochs=1, steps_per_epoch=1, verbose=0)
    assert not np.allclose(plain.discriminator.get_weights()[0], penalised.discriminator.get_weights()[0])


def test_defaults_keep_the_bce_game_step_for_step():
    """loss="bce" with no penalties is the engine as before: the same run, number for number."""
    a = _ring_gan()
    b = _ring_gan(loss="bce", gradient_penalty=0.0, r1_penalty=0.0)
    ha = a.fit(_ring_data(), epochs=1, verbose=0).history
    hb = b.fit(_ring_data(), epochs=1, verbose=0).history
    assert ha == hb


def test_spectral_normalisation_bounds_each_layer_s_largest_singular_value():
    gan = _ring_gan(sn=True, loss="hinge")
    gan.fit(_ring_data().repeat(), epochs=1, steps_per_epoch=30, verbose=0)
    for layer in gan.discriminator.layers:
        if isinstance(layer, keras.layers.SpectralNormalization):
            layer(np.zeros((1, layer.layer.kernel.shape[0]), np.float32), training=True)  # refresh the estimate
            kernel = np.asarray(layer.layer.kernel)
            assert np.linalg.svd(kernel, compute_uv=False)[0] < 1.05, layer.name


def test_mismatched_share_weights_the_two_kinds_of_negative():
    keras.utils.set_random_seed(0)
    gan = training.GAN(models.conditional_mlp_generator(hidden=16), models.conditional_mlp_discriminator(hidden=16),
                       mismatched_pairs=0.2)
    gan.compile()
    real, fake, wrong = (ops.convert_to_tensor(np.full((4, 1), v, np.float32)) for v in (1.0, -1.0, 0.5))
    gan._d_logits = lambda images, labels: wrong  # D's verdict on the mismatched pairs
    images, labels = ops.zeros((4, 28, 28, 1)), ops.convert_to_tensor(np.arange(4, dtype=np.int32))
    expected = 0.8 * training.discriminator_loss(real, fake) + 0.2 * training.discriminator_loss(real, wrong)
    assert math.isclose(float(gan._discriminator_loss(images, labels, real, fake)), float(expected), rel_tol=1e-6)


def test_bad_loss_options_are_clear_errors():
    g, d = models.mlp_generator_2d(hidden=8, depth=1), models.mlp_discriminator_2d(hidden=8, depth=1)
    with pytest.raises(ValueError, match="loss must be one of"):
        training.GAN(g, d, loss="wgan")
    with pytest.raises(ValueError, match="belongs to the \"bce\" game"):
        training.GAN(g, d, loss="hinge", g_loss="minimax")
    with pytest.raises(ValueError, match="gradient_penalty must be a number >= 0"):
        training.GAN(g, d, gradient_penalty=-1)
    with pytest.raises(ValueError, match="r1_penalty must be a number >= 0"):
        training.GAN(g, d, r1_penalty=float("nan"))
    cg, cd = models.conditional_mlp_generator(hidden=8), models.conditional_mlp_discriminator(hidden=8)
    with pytest.raises(ValueError, match="share in \\(0, 1\\)"):
        training.GAN(cg, cd, mismatched_pairs=1.5)
