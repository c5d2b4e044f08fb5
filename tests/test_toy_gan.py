"""Notebook 1's Keras side: the 1-D networks (gan_utils.models) and DensitySnapshots (gan_utils.callbacks).

The TF-free maths they build on is tested in test_toy.py.
"""

import math

import keras
import numpy as np
import pytest

from gan_utils import callbacks, data, models, toy, training

TWO = toy.mixture([-2.0, 2.0], 0.5)
GRID = toy.make_grid(-6, 6, 121)


# -- the 1-D models -----------------------------------------------------------------------------

def test_generator_skip_and_offset():
    z = np.linspace(-3, 3, 7, dtype=np.float32)[:, None]
    keras.utils.set_random_seed(0)
    plain = models.mlp_generator_1d(skip=False)
    keras.utils.set_random_seed(0)
    shifted = models.mlp_generator_1d(skip=False, offset=1.0)
    keras.utils.set_random_seed(0)
    skipped = models.mlp_generator_1d(skip=True)
    assert plain.output_shape == (None, 1) and models.mlp_discriminator_1d().output_shape == (None, 1)
    assert np.allclose(shifted(z).numpy() - plain(z).numpy(), 1.0, atol=1e-5)
    assert np.allclose(skipped(z).numpy() - plain(z).numpy(), z, atol=1e-5)  # G(z) = z + f(z)
    assert models.mlp_generator_1d(latent_dim=3, skip=False).input_shape == (None, 3)
    with pytest.raises(ValueError, match="needs latent_dim=1"):
        models.mlp_generator_1d(latent_dim=2)


def test_discriminator_curve_is_the_sigmoid_of_the_logits():
    keras.utils.set_random_seed(0)
    discriminator = models.mlp_discriminator_1d(hidden=8)
    d = models.discriminator_curve(discriminator, GRID)
    logits = discriminator(GRID[:, None].astype(np.float32)).numpy()[:, 0]
    assert d.shape == (121,) and d.dtype == np.float64
    assert np.allclose(d, 1 / (1 + np.exp(-logits)), atol=1e-7) and np.all((d > 0) & (d < 1))
    with pytest.raises(ValueError, match="increasing 1-D array"):
        models.discriminator_curve(discriminator, GRID[::-1])


# -- DensitySnapshots ---------------------------------------------------------------------------

def _train(ema_decay=None, epochs=3, snapshot_epochs=(0, 2)):
    keras.utils.set_random_seed(0)
    gan = training.GAN(models.mlp_generator_1d(hidden=8), models.mlp_discriminator_1d(hidden=8), seed=0,
                       ema_decay=ema_decay)
    gan.compile(d_optimizer=keras.optimizers.Adam(1e-2), g_optimizer=keras.optimizers.Adam(1e-2))
    watcher = callbacks.DensitySnapshots(TWO, GRID, snapshot_epochs=snapshot_epochs, n_samples=500)
    dataset = data.as_dataset(TWO.sample(512, seed=0), batch_size=64).repeat()
    gan.fit(dataset, epochs=epochs, steps_per_epoch=4, callbacks=[watcher], verbose=0)
    return gan, watcher


def test_density_snapshots_record_a_short_gan_run():
    gan, watcher = _train()
    assert watcher.epochs == [0, 1, 2, 3] and len(watcher.js) == 4
    assert [s.epoch for s in watcher.snapshots] == [0, 2, 3]  # the last epoch is always kept
    snap = watcher.snapshots[-1]
    assert snap.samples.shape == (500,) and snap.d.shape == snap.p_g.shape == snap.d_star.shape == (121,)
    assert watcher.z.shape == (500, 1)
    # Each number is what it claims to be, recomputed from the snapshot's own parts.
    for s in watcher.snapshots:
        assert np.allclose(s.p_g, toy.kde(s.samples, GRID, 0.1))
        assert s.js == toy.js_divergence(watcher.p_data, s.p_g, GRID) == watcher.js[watcher.epochs.index(s.epoch)]
        assert np.allclose(s.d_star, toy.optimal_discriminator(watcher.p_data, s.p_g), equal_nan=True)
        assert s.d_error == toy.weighted_error(s.d, s.d_star, watcher.p_data, GRID)
    assert np.allclose(snap.d, models.discriminator_curve(gan.discriminator, GRID))
    # A near-N(0, 1) generator half covers two modes at +-2: neither a match (0) nor disjoint (log 2).
    assert all(0.01 < v < math.log(2) - 0.01 for v in watcher.js), watcher.js
    assert 0 < snap.d_error < 1 and np.all((snap.d > 0) & (snap.d < 1))


def test_density_snapshots_measure_the_generator_d_plays_against():
    # With EMA, gan.sampler is the moving average; D was trained against gan.generator, so its
    # D* (and the samples, p_g and JS it comes from) must be the raw generator's.
    gan, watcher = _train(ema_decay=0.9, epochs=2, snapshot_epochs=())
    snap = watcher.snapshots[-1]
    raw = gan.generator(watcher.z).numpy()[:, 0]
    average = gan.ema_generator(watcher.z).numpy()[:, 0]
    assert np.abs(raw - average).max() > 1e-3  # the two really differ, so the test can tell them apart
    assert np.allclose(snap.samples, raw, atol=1e-6)
    p_g = toy.kde(raw, GRID, 0.1)
    assert np.allclose(snap.d_star, toy.optimal_discriminator(watcher.p_data, p_g), equal_nan=True)
    assert snap.js == pytest.approx(toy.js_divergence(watcher.p_data, p_g, GRID), abs=1e-9)
