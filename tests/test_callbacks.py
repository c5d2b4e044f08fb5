"""Callbacks: progress frames across fit() calls, an exact resume, a NaN stop that keeps its checkpoint."""

import json
import math
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
from PIL import Image

from helpers import mlp_gan

from gan_utils import callbacks, data, models, resume, training




class _TitledGrid(callbacks.SampleGrid):
    """A SampleGrid that also remembers the title of every frame it draws."""

    def __init__(self, **kwargs):
        super().__init__(show=False, **kwargs)
        self.titles = []

    def draw(self, title, path):
        self.titles.append(title)
        return super().draw(title, path)


def _gif_frames(path) -> int:
    with Image.open(path) as image:
        assert image.format == "GIF"
        return image.n_frames


# --------------------------------------------------------------------------------------------
# SampleGrid
# --------------------------------------------------------------------------------------------

def test_sample_grid_writes_frames_and_a_gif(tmp_path, twos):
    gan = mlp_gan()
    grid = _TitledGrid(n=4, every=2, out_dir=tmp_path)
    gan.fit(data.as_dataset(twos, batch_size=100), epochs=3, steps_per_epoch=1, verbose=0, callbacks=[grid])
    assert grid.titles == ["epoch 2", "epoch 3"]  # every 2nd, and the last
    assert [p.name for p in grid.frames] == ["step_0000002.png", "step_0000003.png"]  # G's steps so far
    assert all(p.exists() for p in grid.frames)
    assert _gif_frames(grid.save_gif()) == 2


def test_sample_grid_across_two_fit_calls_keeps_every_frame(tmp_path, twos):
    gan = mlp_gan()
    grid = _TitledGrid(n=4, out_dir=tmp_path)
    dataset = data.as_dataset(twos, batch_size=100).repeat()
    for _ in range(2):
        gan.fit(dataset, epochs=2, steps_per_epoch=1, verbose=0, callbacks=[grid])
    assert grid.titles == ["epoch 1", "epoch 2", "epoch 3", "epoch 4"]  # the second fit goes on counting
    assert len({p.name for p in grid.frames}) == 4 and all(p.exists() for p in grid.frames)
    assert _gif_frames(grid.save_gif()) == 4


def test_sample_grid_numbers_a_resumed_run_from_the_checkpoint(tmp_path, twos):
    dataset = data.as_dataset(twos, batch_size=100).repeat()
    grid = _TitledGrid(n=4, out_dir=tmp_path / "frames")
    with pytest.raises(KeyboardInterrupt):
        mlp_gan().fit(dataset, epochs=4, steps_per_epoch=1, verbose=0,
                       callbacks=[resume.resume_from("t", tmp_path / "ckpt"), grid, resume.InterruptAtEpoch(2)])
    mlp_gan(seed=1).fit(dataset, epochs=4, steps_per_epoch=1, verbose=0,
                         callbacks=[resume.resume_from("t", tmp_path / "ckpt"), grid])
    assert grid.titles == ["epoch 1", "epoch 2", "epoch 3", "epoch 4"]
    assert _gif_frames(grid.save_gif()) == 4


def test_fid_tracker_counts_steps_under_a_mirrored_strategy(monkeypatch):
    """Under tf.distribute the step counter is a MirroredVariable, which int() cannot read."""
    import tensorflow as tf

    devices = [device.name for device in tf.config.list_logical_devices("CPU")][:2]
    assert len(devices) == 2, "tests/conftest.py splits the CPU into two logical devices"
    monkeypatch.setattr(callbacks.metrics, "evaluate", lambda *args, **kwargs: {"fid": 12.5})  # no judge needed
    with tf.distribute.MirroredStrategy(devices).scope():
        gan = training.GAN(models.mlp_generator(hidden=16), models.mlp_discriminator(hidden=16))
        gan.compile()
    tracker = callbacks.FIDTracker(judge=None, n=4)
    tracker.set_model(gan)
    tracker.on_train_begin()
    tracker.on_epoch_end(0)
    assert tracker.history["steps"] == [0] and tracker.history["fid"] == [12.5]


def test_point_snapshots_and_epoch_timer_record_every_epoch():
    from gan_utils import toy2d

    ring = toy2d.ring()
    keras.utils.set_random_seed(0)
    gan = training.GAN(models.mlp_generator_2d(hidden=16, depth=1), models.mlp_discriminator_2d(hidden=16, depth=1))
    gan.compile()
    watcher, timer = callbacks.PointSnapshots(ring, n_samples=100), callbacks.EpochTimer()
    gan.fit(data.as_dataset(ring.sample(256), batch_size=64).repeat(), epochs=3, steps_per_epoch=4,
            callbacks=[watcher, timer], verbose=0)
    assert watcher.epochs == [0, 1, 2, 3]  # before training, then after each epoch
    assert [p.shape for p in watcher.points] == [(100, 2)] * 4
    np.testing.assert_array_equal(watcher.points[-1], gan.generator(watcher.z).numpy())  # the raw G on fixed z
    assert len(watcher.modes_covered) == 4 and all(0 <= hq <= 1 for hq in watcher.high_quality)
    assert len(watcher.dominant_modes()) == 4
    assert len(timer.seconds) == 3 and timer.seconds_per_step(4) > 0
    with pytest.raises(ValueError, match="no epoch was timed"):
        callbacks.EpochTimer().seconds_per_step(4)


def test_sample_grid_draws_in_the_generator_s_own_range(tmp_path):
    """A sigmoid generator's black pixel (0) is drawn black, not as the middle grey a tanh reading gives."""
    z = keras.Input((8,))
    pixels = keras.layers.Dense(784, activation="sigmoid", kernel_initializer="zeros",
                                bias_initializer=keras.initializers.Constant(-10.0))(z)  # every pixel about 0
    generator = keras.Model(z, keras.layers.Reshape((28, 28, 1))(pixels))
    gan = training.GAN(generator, models.mlp_discriminator(hidden=8))
    grid = callbacks.SampleGrid(n=4, out_dir=tmp_path, show=False)
    grid.set_model(gan)
    grid.z = gan.noise(4)
    fig = grid.draw("test", tmp_path / "frame.png")
    shown = fig.axes[0].images[0].get_array()
    assert float(np.max(shown)) < 0.01


def test_fid_tracker_times_training_batches_not_other_callbacks(monkeypatch, twos):
    import time

    monkeypatch.setattr(callbacks.metrics, "evaluate", lambda *args, **kwargs: {"fid": 1.0})  # no judge needed
    gan = mlp_gan()
    tracker = callbacks.FIDTracker(judge=None, n=8)
    slow_pictures = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: time.sleep(1.0))
    start = time.perf_counter()
    gan.fit(data.as_dataset(twos, batch_size=100).repeat(), epochs=3, steps_per_epoch=2, verbose=0,
            callbacks=[slow_pictures, tracker])  # the slow callback runs first at every epoch's end
    wall = time.perf_counter() - start
    assert tracker.history["steps"] == [2, 4, 6]
    assert tracker.history["seconds"][-1] < wall - 2.5, (tracker.history["seconds"], wall)
