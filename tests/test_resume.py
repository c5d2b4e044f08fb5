"""Exact resuming: the checkpoint, what comes back, a crash while saving, and the data position."""

import json
import math
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest

from helpers import mlp_gan

from gan_utils import data, models, resume, training


def _values(dataset, n):
    return [batch.numpy().ravel().tolist() for batch in dataset.take(n)]



def test_resumed_run_continues_from_the_epoch_where_it_stopped(tmp_path, twos):
    ds = data.as_dataset(twos, batch_size=100).repeat()
    gan = mlp_gan()
    with pytest.raises(KeyboardInterrupt):
        gan.fit(ds, epochs=4, steps_per_epoch=3, verbose=0,
                callbacks=[resume.resume_from("t", tmp_path / "ckpt"), resume.InterruptAtEpoch(2)])
    weights_at_interrupt = [w.copy() for w in gan.generator.get_weights()]

    fresh = mlp_gan(seed=1)  # a new session: new objects, other initial weights
    seen = []
    record = keras.callbacks.LambdaCallback(on_epoch_begin=lambda epoch, logs: seen.append(epoch))
    restored = keras.callbacks.LambdaCallback(
        on_train_begin=lambda logs: np.testing.assert_allclose(fresh.generator.get_weights()[0], weights_at_interrupt[0]))
    history = fresh.fit(ds, epochs=4, steps_per_epoch=3, verbose=0,
                        callbacks=[resume.resume_from("t", tmp_path / "ckpt"), restored, record])
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
    from gan_utils import callbacks, data, models, resume, training

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
        arrays.update({f"rng{i}": np.asarray(v) for i, v in enumerate(resume.random_states(gan))})
        arrays.update({f"loss_{k}": np.asarray(v[-1]) for k, v in history.history.items()})  # the last epoch's
        np.savez(f"{out}/{name}.npz", **arrays)

    save("reference", gan := make_gan(), fit(gan, make_data()))
    dataset = make_data()
    try:
        fit(make_gan(), dataset, resume.InterruptAtEpoch(2), resume.resume_from("t", folder))
    except KeyboardInterrupt:
        pass
    shutil.copy(f"{folder}/epoch-000002/state.json", f"{out}/interrupted_state.json")
    shutil.copytree(folder, folder + "_restart")
    save("same_session", gan := make_gan(), fit(gan, dataset, resume.resume_from("t", folder)))
    try:
        fit(make_gan(), make_data(), resume.resume_from("t", folder + "_restart"), resume.InterruptAtEpoch(4))
    except KeyboardInterrupt:
        pass
    save("restart", gan := make_gan(), fit(gan, make_data(), resume.resume_from("t", folder + "_restart")))
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
        mlp_gan().fit(twos[:200], None, 100, 3, 0, [resume.resume_from("t", tmp_path), resume.InterruptAtEpoch(1)])
    with pytest.warns(UserWarning, match=r"after 2 batches.*not the position in the data.*reshuffles arrays"):
        history = mlp_gan().fit(twos[:200], None, 100, 3, 0, [resume.resume_from("t", tmp_path)])
    assert len(history.history["d_loss"]) == 2


def _diverge_at_epoch(gan, bad_epoch):
    """A stand-in for a divergence: D's output weights turn NaN as epoch ``bad_epoch`` (0-based) starts."""
    def poison(epoch, logs):
        if epoch == bad_epoch:
            kernel = gan.discriminator.weights[-2]
            kernel.assign(np.full(kernel.shape, np.nan, dtype="float32"))
    return keras.callbacks.LambdaCallback(on_epoch_begin=poison)


def _generator_weights_by_epoch(gan):
    """A callback that keeps a copy of G's weights at the end of each epoch, and the dict it fills."""
    good = {}
    keep = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: good.setdefault(epoch, [w.copy() for w in gan.generator.get_weights()]))
    return good, keep


def test_a_nan_stop_keeps_the_checkpoint_of_the_last_good_epoch(tmp_path, twos, capsys):
    folder = tmp_path / "ckpt"
    dataset = data.as_dataset(twos, batch_size=50).repeat()
    gan = mlp_gan()
    good, keep = _generator_weights_by_epoch(gan)
    history = gan.fit(dataset, epochs=5, steps_per_epoch=2, verbose=0,
                      callbacks=[resume.resume_from("t", folder), keep, _diverge_at_epoch(gan, 2)])
    assert len(history.history["d_loss"]) == 3 and not math.isfinite(history.history["d_loss"][-1])
    assert [p.name for p in resume._complete_checkpoints(folder)] == ["epoch-000002", "epoch-000001"]
    assert json.loads((folder / "epoch-000002" / "state.json").read_text())["epoch"] == 2  # epochs 0 and 1 were good
    assert "holds the last good epoch and was kept" in capsys.readouterr().err

    # Resume from it with a smaller learning rate, as the message suggests.
    keras.utils.set_random_seed(1)
    fresh = training.GAN(models.mlp_generator(), models.mlp_discriminator())
    fresh.compile(d_optimizer=keras.optimizers.Adam(1e-5), g_optimizer=keras.optimizers.Adam(1e-5))
    at_start = {}
    check = keras.callbacks.LambdaCallback(on_train_begin=lambda logs: at_start.update(
        g=fresh.generator.get_weights(), lr=float(fresh.g_optimizer.learning_rate), steps=int(fresh.g_optimizer.iterations)))
    history = fresh.fit(dataset, epochs=4, steps_per_epoch=2, verbose=0, callbacks=[check, resume.resume_from("t", folder)])
    for restored, saved in zip(at_start["g"], good[1]):
        np.testing.assert_array_equal(restored, saved)
    assert at_start["lr"] == pytest.approx(1e-5) and at_start["steps"] == 4  # this compile's rate, the checkpoint's steps
    assert len(history.history["d_loss"]) == 2 and np.isfinite(history.history["d_loss"]).all()
    assert not folder.exists()  # completed this time: the checkpoint is deleted


class _CrashWhileSaving(keras.callbacks.Callback):
    """Make the GAN's weight saving fail at a given epoch's checkpoint, as a crash mid-save would."""

    def __init__(self, gan, epoch):
        super().__init__()
        self.gan, self.epoch = gan, epoch
        self.real_save = gan.save_weights

    def on_epoch_begin(self, epoch, logs=None):
        def save_weights(path, *args, **kwargs):
            if epoch + 1 == self.epoch:
                self.real_save(path, *args, **kwargs)
                Path(path).write_bytes(Path(path).read_bytes()[:100])  # half a file...
                raise KeyboardInterrupt("simulated crash while saving")  # ...and the process dies
            return self.real_save(path, *args, **kwargs)
        self.gan.save_weights = save_weights


def test_a_crash_while_saving_keeps_the_last_good_checkpoint(tmp_path, twos):
    folder = tmp_path / "ckpt"
    dataset = data.as_dataset(twos, batch_size=100).repeat()
    gan = mlp_gan()
    good, keep = _generator_weights_by_epoch(gan)
    with pytest.raises(KeyboardInterrupt):
        gan.fit(dataset, epochs=4, steps_per_epoch=2, verbose=0,
                callbacks=[resume.resume_from("t", folder), keep, _CrashWhileSaving(gan, 2)])
    assert [p.name for p in resume._complete_checkpoints(folder)] == ["epoch-000001"]  # the half-written one is not

    fresh = mlp_gan(seed=1)
    seen, at_start = [], {}
    check = keras.callbacks.LambdaCallback(on_train_begin=lambda logs: at_start.update(g=fresh.generator.get_weights()),
                                           on_epoch_begin=lambda epoch, logs: seen.append(epoch))
    fresh.fit(dataset, epochs=4, steps_per_epoch=2, verbose=0, callbacks=[resume.resume_from("t", folder), check])
    assert seen == [1, 2, 3]  # from the last complete checkpoint, epoch 1
    for restored, saved in zip(at_start["g"], good[0]):
        np.testing.assert_array_equal(restored, saved)


def test_a_damaged_newest_checkpoint_falls_back_to_the_one_before(tmp_path, twos, capsys):
    folder = tmp_path / "ckpt"
    dataset = data.as_dataset(twos, batch_size=100).repeat()
    with pytest.raises(KeyboardInterrupt):
        mlp_gan().fit(dataset, epochs=4, steps_per_epoch=1, verbose=0,
                      callbacks=[resume.resume_from("t", folder), resume.InterruptAtEpoch(3)])
    (folder / "epoch-000003" / "model.weights.h5").write_bytes(b"damaged")
    seen = []
    record = keras.callbacks.LambdaCallback(on_epoch_begin=lambda epoch, logs: seen.append(epoch))
    mlp_gan().fit(dataset, epochs=4, steps_per_epoch=1, verbose=0, callbacks=[resume.resume_from("t", folder), record])
    assert seen == [2, 3]
    assert "Skipping the unreadable checkpoint" in capsys.readouterr().err


def test_a_checkpoint_of_another_model_is_a_clear_error(tmp_path, twos):
    folder = tmp_path / "ckpt"
    dataset = data.as_dataset(twos, batch_size=100).repeat()
    with pytest.raises(KeyboardInterrupt):
        mlp_gan().fit(dataset, epochs=3, steps_per_epoch=1, verbose=0,
                      callbacks=[resume.resume_from("t", folder), resume.InterruptAtEpoch(1)])
    other = training.GAN(models.mlp_generator(hidden=32), models.mlp_discriminator(hidden=32))
    other.compile()
    with pytest.raises(ValueError, match=r"(?s)does not fit this model.*delete the folder"):
        other.fit(dataset, epochs=3, steps_per_epoch=1, verbose=0, callbacks=[resume.resume_from("t", folder)])


def test_the_step_count_frames_and_data_position_hold_under_mixed_float16(tmp_path, twos):
    """Keras 3.8's LossScaleOptimizer leaves its own step count at 0 (keras#20878): read the inner one."""
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        gan = mlp_gan(ema_decay=0.9)
        assert isinstance(gan.g_optimizer, keras.optimizers.LossScaleOptimizer)
        from gan_utils import callbacks

        grid = callbacks.SampleGrid(n=4, out_dir=tmp_path / "frames", show=False)
        with pytest.raises(KeyboardInterrupt):
            gan.fit(data.as_dataset(twos, batch_size=100).repeat(), epochs=3, steps_per_epoch=5, verbose=0,
                    callbacks=[resume.resume_from("t", tmp_path / "ckpt"), grid, resume.InterruptAtEpoch(2)])
    finally:
        keras.mixed_precision.set_global_policy("float32")
    applied = int(gan.g_optimizer.inner_optimizer.iterations)
    assert 5 <= applied <= 10 and gan.generator_steps == applied  # a step whose float16 gradients overflow is skipped
    assert [p.name for p in grid.frames][-1] == f"step_{applied:07d}.png"
    state = json.loads((tmp_path / "ckpt" / "epoch-000002" / "state.json").read_text())
    assert state["data_batches"] == 10  # batches read, skipped updates or not
    # The moving average's warm-up follows the same count (stuck at 0 it would stay at 1/10).
    assert float(gan.ema_decay_now()) == pytest.approx(min(0.9, (1 + applied) / (10 + applied)))


@pytest.mark.parametrize("repeat", [True, False])
def test_resume_stream_continues_where_the_interrupted_run_was(repeat):
    import tensorflow as tf

    images = np.arange(40, dtype=np.float32).reshape(40, 1)
    tf.random.set_seed(7)
    dataset = data.as_dataset(images, batch_size=6, seed=3)  # 6 batches per pass
    given = dataset.repeat() if repeat else dataset
    run = _values(dataset.repeat(), 30)  # the run left alone reads passes 0 to 4
    tf.random.set_seed(8)  # other seeds in between must not matter
    stream, steps = resume.resume_stream(given, 10, steps_per_epoch=5 if repeat else None)
    assert steps == (5 if repeat else 6)  # without steps_per_epoch, one epoch is one pass
    assert _values(stream, 20) == run[10:30]  # although `dataset` has been read already


def test_resume_stream_of_another_dataset_skips_ahead_with_a_warning():
    import tensorflow as tf

    plain = tf.data.Dataset.range(12).batch(3)
    with pytest.warns(UserWarning, match="not made by gan_utils.data.as_dataset"):
        stream, steps = resume.resume_stream(plain, 5)
    assert steps == 4 and _values(stream, 3) == [[3, 4, 5], [6, 7, 8], [9, 10, 11]]
    with pytest.warns(UserWarning) as caught:
        resume.resume_stream(plain, 5, steps_per_epoch=3)
    assert any("does not divide the 4 batches" in str(w.message) for w in caught)
    with pytest.raises(TypeError, match="needs a tf.data.Dataset"):
        resume.resume_stream(np.zeros((4, 1)), 1)


