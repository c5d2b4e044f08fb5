"""Latent walks: spherical interpolation (White 2016) against the straight line."""

import math

import numpy as np
import pytest

from gan_utils import latent

D = 100


def _pair(seed, n=None, d=D):
    rng = np.random.default_rng(seed)
    shape = (d,) if n is None else (n, d)
    return rng.normal(size=shape), rng.normal(size=shape)


def _angle(u, v):
    cos = np.dot(u, v) / (np.linalg.norm(u) * np.linalg.norm(v))
    return math.acos(max(-1.0, min(1.0, cos)))


# -- endpoints and shapes -----------------------------------------------------------------------

@pytest.mark.parametrize("fn", [latent.slerp, latent.lerp])
@pytest.mark.parametrize("n", [None, 5], ids=["single", "batch"])
def test_endpoints_are_reproduced(fn, n):
    z0, z1 = _pair(0, n)
    np.testing.assert_allclose(fn(z0, z1, 0.0), z0, atol=1e-12)
    np.testing.assert_allclose(fn(z0, z1, 1.0), z1, atol=1e-12)
    both = fn(z0, z1, np.array([0.0, 1.0]))
    np.testing.assert_allclose(both[0], z0, atol=1e-12)
    np.testing.assert_allclose(both[1], z1, atol=1e-12)


@pytest.mark.parametrize("n, t, expected", [
    (None, 0.3, (D,)),
    (None, np.linspace(0, 1, 7), (7, D)),
    (4, 0.3, (4, D)),
    (4, np.linspace(0, 1, 7), (7, 4, D)),
    (None, [0.25], (1, D)),
])
def test_shapes(n, t, expected):
    z0, z1 = _pair(1, n)
    assert latent.slerp(z0, z1, t).shape == expected
    assert latent.lerp(z0, z1, t).shape == expected


def test_batch_rows_are_walked_independently():
    z0, z1 = _pair(2, n=3)
    ts = np.linspace(0, 1, 5)
    together = latent.slerp(z0, z1, ts)
    for i in range(3):
        np.testing.assert_allclose(together[:, i], latent.slerp(z0[i], z1[i], ts), atol=1e-12)


def test_walk_is_steps_by_latent_dim_from_z0_to_z1():
    z0, z1 = _pair(3)
    w = latent.walk(z0, z1, 9)
    assert w.shape == (9, D)
    np.testing.assert_allclose(w[0], z0, atol=1e-12)
    np.testing.assert_allclose(w[-1], z1, atol=1e-12)
    np.testing.assert_allclose(w, latent.slerp(z0, z1, np.linspace(0, 1, 9)))
    np.testing.assert_allclose(latent.walk(z0, z1, 9, method="lerp"),
                               np.linspace(z0, z1, 9), atol=1e-12)


def test_float32_in_float32_out():
    z0, z1 = (z.astype(np.float32) for z in _pair(4))
    assert latent.slerp(z0, z1, 0.5).dtype == np.float32
    assert latent.walk(z0, z1, 3).dtype == np.float32
    assert latent.slerp(z0.astype(np.float64), z1, 0.5).dtype == np.float64


# -- the geometry: slerp keeps the norm, lerp shrinks it -----------------------------------------

def test_equal_norm_endpoints_keep_their_norm_all_the_way():
    z0, z1 = _pair(5)
    z1 = z1 * np.linalg.norm(z0) / np.linalg.norm(z1)
    w = latent.walk(z0, z1, 11)
    np.testing.assert_allclose(np.linalg.norm(w, axis=1), np.linalg.norm(z0), rtol=1e-10)


def test_slerp_moves_at_constant_angular_speed_between_equal_norms():
    z0, z1 = _pair(6)
    z1 = z1 * np.linalg.norm(z0) / np.linalg.norm(z1)
    omega = _angle(z0, z1)
    for t in (0.1, 0.25, 0.5, 0.8):
        p = latent.slerp(z0, z1, t)
        assert _angle(z0, p) == pytest.approx(t * omega, abs=1e-9)
        assert _angle(p, z1) == pytest.approx((1 - t) * omega, abs=1e-9)


def test_gaussian_midpoints_slerp_keeps_the_norm_lerp_shrinks_it_by_sqrt2():
    # 1,000 independent pairs of N(0, I_100) vectors: their norms are about 10 and their angles
    # about 90 degrees, so the straight midpoint is N(0, I/2) with norm about 10 / sqrt(2).
    z0, z1 = _pair(7, n=1000)
    ends = 0.5 * (np.linalg.norm(z0, axis=1) + np.linalg.norm(z1, axis=1))
    ratio_lerp = np.linalg.norm(latent.lerp(z0, z1, 0.5), axis=1) / ends
    ratio_slerp = np.linalg.norm(latent.slerp(z0, z1, 0.5), axis=1) / ends
    assert ratio_lerp.mean() == pytest.approx(1 / math.sqrt(2), abs=0.02)
    assert ratio_slerp.mean() == pytest.approx(1.0, abs=0.01)
    assert ratio_slerp.min() > 0.9  # every single pair, not just on average
    assert ratio_lerp.max() < 0.85


# -- degenerate endpoints: the straight line --------------------------------------------------

@pytest.mark.parametrize("scale", [2.0, 1.0, 0.5, -1.0, -3.0], ids=["x2", "same", "half", "opposite", "opposite-x3"])
def test_parallel_and_antiparallel_endpoints_fall_back_to_lerp(scale):
    z0, _ = _pair(8)
    z1 = scale * z0
    ts = np.linspace(0, 1, 5)
    got = latent.slerp(z0, z1, ts)
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, latent.lerp(z0, z1, ts), atol=1e-12)


def test_nearly_parallel_endpoints_are_finite_and_close_to_the_line():
    z0, z1 = _pair(9)
    z1 = z0 + 1e-9 * z1
    got = latent.slerp(z0, z1, np.linspace(0, 1, 5))
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, latent.lerp(z0, z1, np.linspace(0, 1, 5)), atol=1e-12)


def test_zero_endpoint_falls_back_to_lerp():
    z0, z1 = _pair(10)
    got = latent.slerp(np.zeros(D), z1, 0.25)
    np.testing.assert_allclose(got, 0.25 * z1, atol=1e-12)


def test_batch_mixing_degenerate_and_ordinary_rows():
    z0, z1 = _pair(11, n=3)
    z1[1] = -z0[1]
    got = latent.slerp(z0, z1, 0.5)
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got[1], 0.0, atol=1e-12)
    np.testing.assert_allclose(got[0], latent.slerp(z0[0], z1[0], 0.5), atol=1e-12)


# -- errors name the problem ------------------------------------------------------------------

@pytest.mark.parametrize("z0, z1, t, match", [
    (np.zeros(3), np.ones(4), 0.5, "same shape"),
    (np.zeros((2, 3)), np.ones(3), 0.5, "same shape"),
    (np.zeros((2, 3, 4)), np.ones((2, 3, 4)), 0.5, r"\(latent_dim,\) or \(n, latent_dim\)"),
    (np.float64(1.0), np.float64(2.0), 0.5, r"\(latent_dim,\) or \(n, latent_dim\)"),
    (np.zeros(0), np.zeros(0), 0.5, r"\(latent_dim,\) or \(n, latent_dim\)"),
    (np.array(["a", "b"]), np.ones(2), 0.5, "real numbers"),
    (np.array([np.nan, 1.0]), np.ones(2), 0.5, "finite"),
    (np.ones(3), np.ones(3), np.zeros((2, 2)), r"scalar or have shape \(k,\)"),
    (np.ones(3), np.ones(3), [0.0, np.inf], "t must be finite"),
    (np.ones(3), np.ones(3), "half", "t must be a float"),
])
@pytest.mark.parametrize("fn", [latent.slerp, latent.lerp])
def test_bad_arguments_raise_clear_errors(fn, z0, z1, t, match):
    with pytest.raises(ValueError, match=match):
        fn(z0, z1, t)


@pytest.mark.parametrize("kwargs, match", [
    ({"steps": 1}, "steps must be an int >= 2"),
    ({"steps": 4.0}, "steps must be an int >= 2"),
    ({"steps": True}, "steps must be an int >= 2"),
    ({"steps": 4, "method": "cubic"}, "method must be 'slerp' or 'lerp'"),
])
def test_walk_rejects_bad_steps_and_method(kwargs, match):
    z0, z1 = _pair(12)
    with pytest.raises(ValueError, match=match):
        latent.walk(z0, z1, **kwargs)


def test_walk_wants_single_vectors():
    z0, z1 = _pair(13, n=2)
    with pytest.raises(ValueError, match=r"shape \(latent_dim,\)"):
        latent.walk(z0, z1, 5)
