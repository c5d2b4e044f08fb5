"""The maths of notebook 1's 1-D toy problem: mixtures, density estimates, divergences, D*.

Notebook 1's models and callback are tested in test_toy_gan.py, its plots in test_plotting.py.
"""

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gan_utils import toy

GRID = toy.make_grid(-10.0, 10.0, 2001)
TWO = toy.mixture([-2.0, 2.0], 0.5)
ROOT = Path(__file__).resolve().parents[1]


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


def test_weights_off_by_rounding_are_normalised_and_sample():
    # A sum 5e-7 away from 1 passes the 1e-6 check but is beyond what rng.choice tolerates (~1.5e-8).
    mix = toy.mixture([-2.0, 2.0], 0.5, [0.3, 0.7 + 5e-7])
    assert math.fsum(mix.weights) == pytest.approx(1.0, abs=1e-15)
    assert mix.weights == pytest.approx((0.3 / (1 + 5e-7), (0.7 + 5e-7) / (1 + 5e-7)), rel=1e-15)
    assert mix.sample(1000, seed=0).shape == (1000, 1)
    assert toy.integrate(mix.pdf(GRID), GRID) == pytest.approx(1.0, abs=1e-9)


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
    assert far_apart == pytest.approx(math.log(2), abs=1e-12)  # no overlap: the maximum, up to rounding
    zero_tails = np.where(np.abs(GRID) < 3, p, 0.0)
    assert math.isfinite(toy.js_divergence(p, zero_tails, GRID))  # where KL is infinite
    one_mode = toy.js_divergence(p, toy.normal_pdf(GRID, 2.0, 0.5), GRID)
    expected = 0.5 * (0.5 * math.log(2) + 0.5 * math.log(2 / 3)) + 0.5 * math.log(4 / 3)
    assert one_mode == pytest.approx(expected, abs=1e-4)  # 0.216, quoted by the notebook


def test_js_divergence_survives_underflowing_tails():
    # Where a tail holds the smallest subnormal float and the other density is 0, m = (p + q) / 2
    # rounds to 0 under p > 0: taken literally, KL(p || m) would be infinite.
    p, q = toy.normal_pdf(GRID, 0.0, 0.05), toy.normal_pdf(GRID, 5.0, 0.05)
    assert p[0] == q[0] == 0.0
    p[0] = np.nextafter(0.0, 1.0)
    assert toy.js_divergence(p, q, GRID) == pytest.approx(math.log(2), abs=1e-12)  # no overlap


@pytest.mark.parametrize("broken_kl, message", [
    (0.8, r"JS = 0\.8 nats.*above log 2"),
    (-0.01, r"JS = -0\.01 nats.*below 0"),
], ids=["above-log2", "negative"])
def test_js_divergence_fails_loudly_beyond_rounding(monkeypatch, broken_kl, message):
    # A bug upstream (here a KL that returns a wrong constant) must surface, not be clamped away.
    monkeypatch.setattr(toy, "kl_divergence", lambda p, q, grid: broken_kl)
    with pytest.raises(ValueError, match=message):
        toy.js_divergence(TWO.pdf(GRID), toy.normal_pdf(GRID, 0.0, 2.0), GRID)


@pytest.mark.parametrize("kl, js", [(math.log(2) + 1e-12, math.log(2)), (-1e-12, 0.0)], ids=["above", "below"])
def test_js_divergence_clips_only_rounding_errors(monkeypatch, kl, js):
    monkeypatch.setattr(toy, "kl_divergence", lambda p, q, grid: kl)
    assert toy.js_divergence(TWO.pdf(GRID), toy.normal_pdf(GRID, 0.0, 2.0), GRID) == js


def test_kl_divergence_fails_loudly_when_negative(monkeypatch):
    # The discrete KL of two densities normalised on one grid is >= 0 exactly (Gibbs' inequality),
    # so a clearly negative value is a bug, e.g. in the integral, and must not become 0.
    integrate = toy.integrate
    monkeypatch.setattr(toy, "integrate", lambda values, grid: integrate(values, grid) - 0.01)
    p = TWO.pdf(GRID)
    with pytest.raises(ValueError, match=r"KL = -0\.01\d* nats.*below 0"):
        toy.kl_divergence(p, p, GRID)


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


# -- no TensorFlow needed -----------------------------------------------------------------------

_WITHOUT_TF = """
import json, sys

class Blocked:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {"tensorflow", "keras", "matplotlib"}:
            raise ModuleNotFoundError(f"{name} is blocked by the test")
        return None

sys.meta_path.insert(0, Blocked())
from gan_utils import toy

grid = toy.make_grid(-6.0, 6.0, 601)
mix = toy.mixture([-2.0, 2.0], 0.5)
p, q = mix.pdf(grid), toy.normal_pdf(grid, 2.0, 0.5)
print(json.dumps({
    "samples": mix.sample(100, seed=0).shape,
    "kl": toy.kl_divergence(p, q, grid),
    "js": toy.js_divergence(p, q, grid),
    "d_star": toy.optimal_discriminator(p, q).tolist(),
    "loaded": sorted({m.partition(".")[0] for m in sys.modules} & {"tensorflow", "keras", "matplotlib"}),
}))
"""


def test_maths_work_without_tensorflow_keras_or_matplotlib():
    done = subprocess.run([sys.executable, "-c", _WITHOUT_TF], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout)
    grid = toy.make_grid(-6.0, 6.0, 601)
    p, q = TWO.pdf(grid), toy.normal_pdf(grid, 2.0, 0.5)
    assert out["samples"] == [100, 1] and out["loaded"] == []
    assert out["kl"] == toy.kl_divergence(p, q, grid) and out["js"] == toy.js_divergence(p, q, grid)
    assert np.array_equal(out["d_star"], toy.optimal_discriminator(p, q))
