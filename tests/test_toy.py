"""The 1-D toy helpers of notebook 1: mixtures, density estimates, divergences, models, plots."""

import math

import matplotlib

matplotlib.use("Agg")  # unit tests stay headless; the nbval run exercises inline display

import numpy as np
import pytest
from matplotlib.figure import Figure

from gan_utils import data, toy, training

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
GRID = toy.make_grid(-10.0, 10.0, 2001)
TWO = toy.mixture([-2.0, 2.0], 0.5)


# -- the mixture --------------------------------------------------------------------------------

@pytest.mark.parametrize("mix", [
    TWO,
    toy.mixture([-3.0, 0.0, 3.0], [0.3, 0.5, 0.8], [0.2, 0.5, 0.3]),
    toy.mixture([1.0], 1.5),
], ids=["two", "three-uneven", "one"])
def test_density_integrates_to_one_and_cdf_agrees(mix):
    assert toy.integrate(mix.pdf(GRID), GRID) == pytest.approx(1.0, abs=1e-6)
    cdf = mix.cdf(GRID)
    assert cdf[0] == pytest.approx(0.0, abs=1e-6) and cdf[-1] == pytest.approx(1.0, abs=1e-6)
    assert np.all(np.diff(cdf) >= 0)
    u = np.array([0.05, 0.3, 0.5, 0.9])
    assert mix.cdf(mix.quantile(u)) == pytest.approx(u, abs=1e-4)


def test_pdf_keeps_the_input_shape():
    assert TWO.pdf(np.zeros((4, 1))).shape == (4, 1)
    assert TWO.pdf(0.0).shape == ()
    assert TWO.pdf(2.0) == pytest.approx(0.5 / (0.5 * math.sqrt(2 * math.pi)), rel=1e-6)


def test_sampling_matches_the_weights_and_reproduces():
    mix = toy.mixture([-2.0, 2.0], 0.5, [0.3, 0.7])
    x, modes = mix.sample(20_000, seed=3, return_modes=True)
    assert x.shape == (20_000, 1) and x.dtype == np.float32 and modes.shape == (20_000,)
    assert np.bincount(modes) / len(modes) == pytest.approx([0.3, 0.7], abs=0.015)
    assert mix.mode_shares(x) == pytest.approx([0.3, 0.7], abs=0.015)
    assert np.mean(mix.assign_modes(x) == modes) > 0.999  # modes 8 std apart barely overlap
    assert np.array_equal(x, mix.sample(20_000, seed=3)) and not np.array_equal(x, mix.sample(20_000, seed=4))


def test_mode_shares_of_a_collapsed_sampler():
    shares = TWO.mode_shares(np.full((100, 1), 2.1))
    assert shares.tolist() == [0.0, 1.0] and shares.sum() == 1.0


@pytest.mark.parametrize("kwargs, message", [
    ({"means": [-2, 2], "stds": [0.5, 0.5], "weights": [0.7, 0.7]}, "weights must sum to 1"),
    ({"means": [-2, 2], "stds": [0.5, 0.5], "weights": [1.5, -0.5]}, "weights must be non-negative"),
    ({"means": [-2, 2], "stds": [0.5, 0.0], "weights": [0.5, 0.5]}, "stds must be positive"),
    ({"means": [-2, 2], "stds": [0.5], "weights": [0.5, 0.5]}, "one entry per mode"),
    ({"means": [float("nan")], "stds": [1.0], "weights": [1.0]}, "means must be finite"),
])
def test_bad_mixtures_are_explained(kwargs, message):
    with pytest.raises(ValueError, match=message):
        toy.GaussianMixture(**kwargs)


def test_sum_error_suggests_normalised_weights():
    with pytest.raises(ValueError, match=r"weights=\(0\.25, 0\.75\)"):
        toy.mixture([0, 1], 1.0, [1.0, 3.0])


# -- density estimates and divergences -----------------------------------------------------------

def test_fit_gaussian_histogram_and_kde():
    x = np.random.default_rng(0).normal(1.5, 2.0, size=(50_000, 1))
    mean, std = toy.fit_gaussian(x)
    assert mean == pytest.approx(1.5, abs=0.05) and std == pytest.approx(2.0, abs=0.05)
    hist = toy.histogram_density(x, GRID, bins=50)
    assert toy.integrate(hist, GRID) == pytest.approx(1.0, abs=0.01)
    assert hist[0] == 0.0 and hist[-1] == 0.0  # outside the samples' range
    h = toy.silverman_bandwidth(x)
    assert 0 < h < 0.3
    density = toy.kde(x[:5000], GRID)
    assert toy.integrate(density, GRID) == pytest.approx(1.0, abs=1e-3)
    assert np.max(np.abs(density - toy.normal_pdf(GRID, 1.5, 2.0))) < 0.02


def test_kl_divergence_properties():
    p = TWO.pdf(GRID)
    assert toy.kl_divergence(p, p, GRID) == pytest.approx(0.0, abs=1e-12)
    mean, std = 0.0, math.sqrt(0.5**2 + 2.0**2)  # the best single Gaussian for TWO
    gaussian = toy.normal_pdf(GRID, mean, std)
    forward, backward = toy.kl_divergence(p, gaussian, GRID), toy.kl_divergence(gaussian, p, GRID)
    assert forward > 0.1 and backward > forward  # a Gaussian cannot fit two modes; KL is not symmetric
    shifted = toy.normal_pdf(GRID, 0.3, std)
    assert toy.kl_divergence(p, shifted, GRID) > forward  # the moment-matched Gaussian is the best one
    zero_tails = np.where(np.abs(GRID) < 3, p, 0.0)
    assert toy.kl_divergence(p, zero_tails, GRID) == math.inf
    assert math.isfinite(toy.kl_divergence(zero_tails, p, GRID))


def test_js_divergence_properties():
    p, q = TWO.pdf(GRID), toy.normal_pdf(GRID, 0.0, 2.0)
    assert toy.js_divergence(p, p, GRID) == pytest.approx(0.0, abs=1e-12)
    assert toy.js_divergence(p, q, GRID) == pytest.approx(toy.js_divergence(q, p, GRID), rel=1e-12)
    assert 0 < toy.js_divergence(p, q, GRID) < math.log(2)
    far_apart = toy.js_divergence(toy.normal_pdf(GRID, -6, 0.2), toy.normal_pdf(GRID, 6, 0.2), GRID)
    assert far_apart == pytest.approx(math.log(2), abs=1e-6) and far_apart <= math.log(2)
    zero_tails = np.where(np.abs(GRID) < 3, p, 0.0)
    assert math.isfinite(toy.js_divergence(p, zero_tails, GRID))  # where KL is infinite
    one_mode = toy.js_divergence(p, toy.normal_pdf(GRID, 2.0, 0.5), GRID)
    expected = 0.5 * (0.5 * math.log(2) + 0.5 * math.log(2 / 3)) + 0.5 * math.log(4 / 3)
    assert one_mode == pytest.approx(expected, abs=1e-4)  # 0.216, quoted by the notebook


def test_divergences_reject_bad_densities():
    with pytest.raises(ValueError, match="one value per grid point"):
        toy.js_divergence(np.ones(5), np.ones(GRID.shape), GRID)
    with pytest.raises(ValueError, match="finite values >= 0"):
        toy.kl_divergence(-np.ones(GRID.shape), np.ones(GRID.shape), GRID)
    with pytest.raises(ValueError, match="no mass on this grid"):
        toy.kl_divergence(np.zeros(GRID.shape), np.ones(GRID.shape), GRID)
    with pytest.raises(ValueError, match="increasing 1-D array"):
        toy.kde(np.zeros(3), np.array([1.0, 0.0, 2.0]))
    with pytest.raises(ValueError, match="NaN or infinite"):
        toy.kde(np.array([0.0, np.nan]), GRID)


def test_optimal_discriminator_and_weighted_error():
    p, q = TWO.pdf(GRID), toy.normal_pdf(GRID, 2.0, 0.5)
    d_star = toy.optimal_discriminator(p, q)
    assert toy.optimal_discriminator(p, p)[GRID.size // 2] == 0.5
    finite = d_star[np.isfinite(d_star)]
    assert np.all((finite >= 0) & (finite <= 1))
    assert d_star[np.argmin(np.abs(GRID + 2))] == pytest.approx(1.0)  # the mode G never visits
    assert d_star[np.argmin(np.abs(GRID - 2))] == pytest.approx(1 / 3, abs=1e-6)
    assert np.isnan(toy.optimal_discriminator(np.zeros(3), np.zeros(3))).all()
    assert toy.weighted_error(d_star, d_star, p, GRID) == 0.0
    assert toy.weighted_error(0.5, d_star, p, GRID) == pytest.approx(0.5 * 0.5 + 0.5 * (0.5 - 1 / 3), abs=0.01)
    with pytest.raises(ValueError, match="same grid"):
        toy.optimal_discriminator(np.ones(3), np.ones(4))


# -- models, the callback and the engine ----------------------------------------------------------

def test_generator_skip_and_offset():
    import keras

    z = np.linspace(-3, 3, 7, dtype=np.float32)[:, None]
    keras.utils.set_random_seed(0)
    plain = toy.mlp_generator_1d(skip=False)
    keras.utils.set_random_seed(0)
    shifted = toy.mlp_generator_1d(skip=False, offset=1.0)
    keras.utils.set_random_seed(0)
    skipped = toy.mlp_generator_1d(skip=True)
    assert plain.output_shape == (None, 1) and toy.mlp_discriminator_1d().output_shape == (None, 1)
    assert np.allclose(shifted(z).numpy() - plain(z).numpy(), 1.0, atol=1e-5)
    assert np.allclose(skipped(z).numpy() - plain(z).numpy(), z, atol=1e-5)  # G(z) = z + f(z)
    assert toy.mlp_generator_1d(latent_dim=3, skip=False).input_shape == (None, 3)
    with pytest.raises(ValueError, match="needs latent_dim=1"):
        toy.mlp_generator_1d(latent_dim=2)


def test_density_snapshots_record_a_short_gan_run():
    import keras

    keras.utils.set_random_seed(0)
    gan = training.GAN(toy.mlp_generator_1d(hidden=8), toy.mlp_discriminator_1d(hidden=8), seed=0)
    gan.compile()
    watcher = toy.DensitySnapshots(TWO, toy.make_grid(-6, 6, 121), snapshot_epochs=(0, 2), n_samples=500)
    dataset = data.as_dataset(TWO.sample(512, seed=0), batch_size=64).repeat()
    gan.fit(dataset, epochs=3, steps_per_epoch=4, callbacks=[watcher], verbose=0)
    assert watcher.epochs == [0, 1, 2, 3] and len(watcher.js) == 4
    assert [s.epoch for s in watcher.snapshots] == [0, 2, 3]  # the last epoch is always kept
    snap = watcher.snapshots[-1]
    assert snap.samples.shape == (500,) and snap.d.shape == snap.p_g.shape == snap.d_star.shape == (121,)
    assert all(0 <= v <= math.log(2) for v in watcher.js) and 0 <= snap.d_error <= 1
    assert np.all((snap.d > 0) & (snap.d < 1))
    assert watcher.z.shape == (500, 1)


# -- plots ---------------------------------------------------------------------------------------

def _snapshot(epoch, grid):
    p_g = toy.normal_pdf(grid, 0.0, 1.0)
    p = TWO.pdf(grid)
    d_star = toy.optimal_discriminator(p, p_g)
    return toy.Snapshot(epoch, np.random.default_rng(0).normal(size=300).astype(np.float32), p_g,
                        np.full(grid.shape, 0.5), d_star, toy.js_divergence(p, p_g, grid), 0.1)


def test_plot_helpers_return_figures_and_save_pngs(tmp_path):
    grid = toy.make_grid(-6, 6, 121)
    p = TWO.pdf(grid)
    fig = toy.plot_density_fits(grid, p, {"N(0, 1)": toy.normal_pdf(grid)}, samples=TWO.sample(200),
                                path=tmp_path / "fits.png")
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    assert (tmp_path / "fits.png").read_bytes()[:8] == PNG_SIGNATURE

    fig = toy.plot_snapshots([_snapshot(e, grid) for e in (0, 1, 5, 10)], grid, p, path=tmp_path / "row.png")
    assert len(fig.axes) == 4 and fig.axes[2].get_title().startswith("epoch 5: JS = ")
    assert (tmp_path / "row.png").read_bytes()[:8] == PNG_SIGNATURE

    z = np.linspace(-3, 3, 200)
    fig = toy.plot_generator_map(z, -TWO.quantile(0.5 * (1 + np.tanh(z))), TWO, path=tmp_path / "map.png")
    assert len(fig.axes) == 3 and "mirrored" in fig.axes[1].get_legend().get_texts()[1].get_text()

    fig = toy.plot_js_curve({"a": ([0, 1, 2], [0.6, 0.1, 0.01])}, floor=0.001)
    assert fig.axes[0].get_yscale() == "log"

    d = np.linspace(0.01, 0.99, 50)
    fig = toy.plot_g_losses(d, {"minimax": np.log(1 - d)}, {"minimax": -d})
    assert len(fig.axes) == 2


def test_plot_errors_are_explained():
    grid = toy.make_grid(-6, 6, 121)
    with pytest.raises(ValueError, match="no snapshots"):
        toy.plot_snapshots([], grid, TWO.pdf(grid))
    with pytest.raises(ValueError, match="same length"):
        toy.plot_generator_map(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="curves is empty"):
        toy.plot_js_curve({})
