"""Notebook 5's 2-D playground: the mixtures and the two mode metrics on hand-made samples."""

import numpy as np
import pytest

from gan_utils import toy2d


def test_ring_and_grid_centres():
    ring = toy2d.ring(modes=8, radius=2.0)
    assert ring.centres.shape == (8, 2)
    np.testing.assert_allclose(np.linalg.norm(ring.centres, axis=1), 2.0)
    np.testing.assert_allclose(ring.centres[0], [2.0, 0.0], atol=1e-12)
    grid = toy2d.grid(side=5, spacing=2.0)
    assert grid.centres.shape == (25, 2)
    assert set(np.unique(grid.centres[:, 0])) == {-4.0, -2.0, 0.0, 2.0, 4.0}


def test_samples_of_the_data_cover_every_mode_with_almost_all_high_quality():
    ring = toy2d.ring()
    report = toy2d.mode_report(ring.sample(8_000, seed=0), ring)
    assert report.modes_covered == 8
    assert report.high_quality > 0.98  # 3 sigma in 2-D holds 98.9% of a Gaussian's mass
    np.testing.assert_allclose(report.shares, 1 / 8, atol=0.02)


def test_mode_report_on_hand_made_samples():
    ring = toy2d.ring(std=0.1)
    centres = ring.centres
    points = np.concatenate([
        np.repeat(centres[:1], 60, axis=0),           # 60 points exactly on mode 0
        np.repeat(centres[1:2] + [0.25, 0.0], 30, 0),  # 30 within 3 sigma (0.3) of mode 1
        np.repeat(centres[2:3], 2, axis=0),            # 2 on mode 2: 2% < a quarter of 1/8
        np.zeros((8, 2)),                              # 8 at the centre of the ring, near no mode
    ])
    report = toy2d.mode_report(points, ring)
    assert report.modes_covered == 2
    assert report.high_quality == pytest.approx(0.92)
    np.testing.assert_allclose(report.shares[:3], [0.6, 0.3, 0.02])
    assert toy2d.mode_report(points, ring, min_share=0.01).modes_covered == 3
    assert "2 of 8 modes covered, 92% high-quality samples" == str(report)


def test_bad_input_is_a_clear_error():
    ring = toy2d.ring()
    with pytest.raises(ValueError, match="shape \\(n, 2\\)"):
        toy2d.mode_report(np.zeros((10, 3)), ring)
    with pytest.raises(ValueError, match="NaN or infinite"):
        toy2d.mode_report(np.full((4, 2), np.nan), ring)
    with pytest.raises(ValueError, match="modes must be a positive integer"):
        toy2d.ring(modes=0)
    with pytest.raises(ValueError, match="std must be a positive number"):
        toy2d.grid(std=-1)
