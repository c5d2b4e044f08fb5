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

from gan_utils import callbacks, data, models, training




class _TitledGrid(callbacks.SampleGrid):
    """A SampleGrid that also remembers the title of every frame it draws."""

    def __init__(self, **kwargs):
        super().__init__(value_range="sigmoid", show=False, **kwargs)
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
                       callbacks=[callbacks.resume_from("t", tmp_path / "ckpt"), grid, callbacks.InterruptAtEpoch(2)])
    mlp_gan(seed=1).fit(dataset, epochs=4, steps_per_epoch=1, verbose=0,
                         callbacks=[callbacks.resume_from("t", tmp_path / "ckpt"), grid])
    assert grid.titles == ["epoch 1", "epoch 2", "epoch 3", "epoch 4"]
    assert _gif_frames(grid.save_gif()) == 4


# --------------------------------------------------------------------------------------------
# Resuming
# --------------------------------------------------------------------------------------------

def test_resumed_run_continues_from_the_epoch_where_it_stopped(tmp_path, twos):
    ds = data.as_dataset(twos, batch_size=100).repeat()
    gan = mlp_gan()
    with pytest.raises(KeyboardInterrupt):
        gan.fit(ds, epochs=4, steps_per_epoch=3, verbose=0,
                callbacks=[callbacks.resume_from("t", tmp_path / "ckpt"), callbacks.InterruptAtEpoch(2)])
    weights_at_interrupt = [w.copy() for w in gan.generator.get_weights()]

    fresh = mlp_gan(seed=1)  # a new session: new objects, other initial weights
    seen = []
    record = keras.callbacks.LambdaCallback(on_epoch_begin=lambda epoch, logs: seen.append(epoch))
    restored = keras.callbacks.LambdaCallback(
        on_train_begin=lambda logs: np.testing.assert_allclose(fresh.generator.get_weights()[0], weights_at_interrupt[0]))
    history = fresh.fit(ds, epochs=4, steps_per_epoch=3, verbose=0,
                        callbacks=[callbacks.resume_from("t", tmp_path / "ckpt"), restored, record])
    assert seen == [2, 3]  # epochs 0 and 1 were done before the interruption
    assert len(history.history["d_loss"]) == 2
    assert fresh.d_optimizer.iterations.numpy() == 12  # 6 steps before, 6 after: optimizer state came back
    assert not (tmp_path / "ckpt").exists()  # training completed: the checkpoint is gone

    history = fresh.fit(ds, epochs=1, steps_per_epoch=3, verbose=0)
    assert len(history.history["d_loss"]) == 1  # a later plain fit starts at epoch 0, not at the restored one


# Run in a fresh process: op determinism is process-wide and slows other tests down. The run
# left alone; the same run interrupted after epoch 2; a resume in the same session on the same
# dataset object (notebook 3's pattern); and resumes with every object built anew (dataset,
# models, callback), as after a kernel restart, the first of them interrupted again after epoch 4.
_RESUME_SCRIPT = textwrap.dedent('''
    import shutil, sys
    import tensorflow as tf
    tf.config.experimental.enable_op_determinism()
    import keras, numpy as np
    from gan_utils import callbacks, data, models, training

    folder, out = sys.argv[1], sys.argv[2]
    EPOCHS, STEPS = 5, 4  # 16-image batches, 6 per pass over the data: epochs end mid-pass

    def make_data():
        keras.utils.set_random_seed(0)
        rng = np.random.default_rng(0)
        images = rng.uniform(-1, 1, (100, 28, 28, 1)).astype(np.float32)
        return data.as_dataset(images, np.arange(100) % 10, batch_size=16, seed=0).repeat()

    def make_gan():
        keras.utils.set_random_seed(0)
        image, label = keras.Input((28, 28, 1)), keras.Input((), dtype="int32")
        one_hot = keras.layers.CategoryEncoding(10, output_mode="one_hot")(label)
        h = keras.layers.Concatenate()([keras.layers.Flatten()(image), one_hot])
        h = keras.layers.Dropout(0.3)(keras.layers.Dense(64, activation="relu")(h))  # a layer's own RNG
        discriminator = keras.Model([image, label], keras.layers.Dense(1)(h))
        gan = training.GAN(models.conditional_mlp_generator(hidden=64), discriminator, ema_decay=0.9,
                           mismatched_pairs=True, augment_shift=2, seed=0)
        gan.compile()
        return gan

    def fit(gan, dataset, *extra):
        return gan.fit(dataset, epochs=EPOCHS, steps_per_epoch=STEPS, verbose=0, callbacks=list(extra))

    def save(name, gan, history):
        arrays = {f"g{i}": w for i, w in enumerate(gan.generator.get_weights())}
        arrays.update({f"d{i}": w for i, w in enumerate(gan.discriminator.get_weights())})
        arrays.update({f"ema{i}": w for i, w in enumerate(gan.ema_generator.get_weights())})
        for opt in ("d_optimizer", "g_optimizer"):
            arrays.update({f"{opt}{i}": np.asarray(v) for i, v in enumerate(getattr(gan, opt).variables)})
        arrays.update({f"rng{i}": np.asarray(v) for i, v in enumerate(callbacks._random_states(gan))})
        arrays.update({f"loss_{k}": np.asarray(v[-1]) for k, v in history.history.items()})  # the last epoch's
        np.savez(f"{out}/{name}.npz", **arrays)

    save("reference", gan := make_gan(), fit(gan, make_data()))
    dataset = make_data()
    try:
        fit(make_gan(), dataset, callbacks.InterruptAtEpoch(2), callbacks.resume_from("t", folder))
    except KeyboardInterrupt:
        pass
    shutil.copy(f"{folder}/gan_state.json", f"{out}/interrupted_state.json")
    shutil.copytree(folder, folder + "_restart")
    save("same_session", gan := make_gan(), fit(gan, dataset, callbacks.resume_from("t", folder)))
    try:
        fit(make_gan(), make_data(), callbacks.resume_from("t", folder + "_restart"), callbacks.InterruptAtEpoch(4))
    except KeyboardInterrupt:
        pass
    save("restart", gan := make_gan(), fit(gan, make_data(), callbacks.resume_from("t", folder + "_restart")))
''')


def test_resume_is_exact_in_the_same_session_and_after_a_restart(tmp_path):
    """Weights, EMA, optimizers, random states, data position and losses all match the run left alone."""
    done = subprocess.run([sys.executable, "-c", _RESUME_SCRIPT, str(tmp_path / "ckpt"), str(tmp_path)],
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads((tmp_path / "interrupted_state.json").read_text())["data_batches"] == 8  # 2 epochs of 4
    reference = np.load(tmp_path / "reference.npz")
    for run in ("same_session", "restart"):
        resumed = np.load(tmp_path / f"{run}.npz")
        assert sorted(resumed.files) == sorted(reference.files)
        for key in reference.files:
            np.testing.assert_allclose(resumed[key], reference[key], rtol=1e-6, atol=1e-7, err_msg=f"{run}: {key}")


def test_resuming_from_arrays_warns_that_the_data_position_is_not_restored(tmp_path, twos):
    with pytest.raises(KeyboardInterrupt):
        mlp_gan().fit(twos[:200], None, 100, 3, 0, [callbacks.resume_from("t", tmp_path), callbacks.InterruptAtEpoch(1)])
    with pytest.warns(UserWarning, match=r"after 2 batches.*not the position in the data.*reshuffles arrays"):
        history = mlp_gan().fit(twos[:200], None, 100, 3, 0, [callbacks.resume_from("t", tmp_path)])
    assert len(history.history["d_loss"]) == 2


def _diverge_at_epoch(gan, bad_epoch):
    """A stand-in for a divergence: D's output weights turn NaN as epoch ``bad_epoch`` (0-based) starts."""
    def poison(epoch, logs):
        if epoch == bad_epoch:
            kernel = gan.discriminator.weights[-2]
            kernel.assign(np.full(kernel.shape, np.nan, dtype="float32"))
    return keras.callbacks.LambdaCallback(on_epoch_begin=poison)


def test_a_nan_stop_keeps_the_checkpoint_of_the_last_good_epoch(tmp_path, twos, capsys):
    folder = tmp_path / "ckpt"
    dataset = data.as_dataset(twos, batch_size=50).repeat()
    gan = mlp_gan()
    good = {}
    keep = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: good.setdefault(epoch, [w.copy() for w in gan.generator.get_weights()]))
    history = gan.fit(dataset, epochs=5, steps_per_epoch=2, verbose=0,
                      callbacks=[callbacks.resume_from("t", folder), keep, _diverge_at_epoch(gan, 2)])
    assert len(history.history["d_loss"]) == 3 and not math.isfinite(history.history["d_loss"][-1])
    assert json.loads((folder / "training_metadata.json").read_text())["epoch"] == 2  # epochs 0 and 1 were good
    assert json.loads((folder / "gan_state.json").read_text())["epoch"] == 2
    assert "holds the last good epoch and was kept" in capsys.readouterr().err

    # Resume from it with a smaller learning rate, as the message suggests.
    keras.utils.set_random_seed(1)
    fresh = training.GAN(models.mlp_generator(), models.mlp_discriminator())
    fresh.compile(d_optimizer=keras.optimizers.Adam(1e-5), g_optimizer=keras.optimizers.Adam(1e-5))
    at_start = {}
    check = keras.callbacks.LambdaCallback(on_train_begin=lambda logs: at_start.update(
        g=fresh.generator.get_weights(), lr=float(fresh.g_optimizer.learning_rate), steps=int(fresh.g_optimizer.iterations)))
    history = fresh.fit(dataset, epochs=4, steps_per_epoch=2, verbose=0, callbacks=[check, callbacks.resume_from("t", folder)])
    for restored, saved in zip(at_start["g"], good[1]):
        np.testing.assert_array_equal(restored, saved)
    assert at_start["lr"] == pytest.approx(1e-5) and at_start["steps"] == 4  # this compile's rate, the checkpoint's steps
    assert len(history.history["d_loss"]) == 2 and np.isfinite(history.history["d_loss"]).all()
    assert not folder.exists()  # completed this time: the checkpoint is deleted


def test_an_incomplete_checkpoint_is_a_clear_error(tmp_path, twos):
    folder = tmp_path / "ckpt"
    dataset = data.as_dataset(twos, batch_size=100).repeat()
    with pytest.raises(KeyboardInterrupt):
        mlp_gan().fit(dataset, epochs=3, steps_per_epoch=1, verbose=0,
                       callbacks=[callbacks.resume_from("t", folder), callbacks.InterruptAtEpoch(1)])
    state = json.loads((folder / "gan_state.json").read_text())
    (folder / "gan_state.json").write_text(json.dumps({**state, "epoch": 2}))  # as if stopped while saving
    with pytest.raises(ValueError, match=r"incomplete.*weights are from epoch 1.*from epoch 2.*Delete the folder"):
        mlp_gan().fit(dataset, epochs=3, steps_per_epoch=1, verbose=0, callbacks=[callbacks.resume_from("t", folder)])


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
