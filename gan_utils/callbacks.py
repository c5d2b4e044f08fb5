"""Keras callbacks for GAN training: progress pictures, a GIF, FID over time, a NaN guard, exact
resuming, notebook 1's density snapshots of a 1-D GAN and notebook 5's point snapshots of a 2-D GAN."""

from __future__ import annotations

import json
import math
import sys
import time
import warnings
from pathlib import Path

from .backend import require_tensorflow

require_tensorflow()

import keras  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from . import config, data, metrics, toy, toy2d  # noqa: E402
from .models import discriminator_curve  # noqa: E402
from .plotting import image_grid  # noqa: E402


class SampleGrid(keras.callbacks.Callback):
    """Draw the same fixed noise through the generator every ``every`` epochs.

    The noise is fixed once, apart from the training noise, so that the *same* digits
    visibly sharpen from one grid to the next and in the GIF.

    Epochs are counted across ``fit()`` calls: a second plain ``fit`` goes on with the next
    epoch numbers, and a resumed one (``resume_from``) with the checkpoint's. Frames are named
    by G's optimizer steps so far (``step_0000300.png``), which never repeat, so no frame
    overwrites another and the GIF holds them all.

    Args:
        n: images per grid.
        every: draw after every ``every``-th epoch (and always after the last of a ``fit``).
        out_dir: where PNG frames go (default: ``outputs/samples``).
        labels: conditional GANs: the label of each image (n ints), e.g. ``np.arange(n) % 10``.
        value_range: the generator's output range, "tanh" or "sigmoid".
        seed: seed of the fixed noise.
        show: also display each grid inline when running in a notebook.
    """

    def __init__(self, n: int = 16, every: int = 1, out_dir=None, labels=None, value_range: str = "tanh",
                 seed: int = 1234, show: bool = True, ncols: int | None = None):
        super().__init__()
        if every < 1:
            raise ValueError(f"every must be a positive integer, got {every!r}.")
        self.n, self.every, self.labels, self.value_range = n, every, labels, value_range
        self.seed, self.show, self.ncols = seed, show, ncols
        self.out_dir = Path(out_dir) if out_dir is not None else config.output_dir("samples")
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.frames: list[Path] = []
        self.z = None
        self._epochs_seen = 0  # the last epoch number drawn or skipped, across fit() calls
        self._offset = 0

    def on_train_begin(self, logs=None):
        if self.z is None:  # kept across several fit() calls, so frames stay comparable
            self.z = self.model.noise(self.n, seed=self.seed)
        self._epochs = self.params.get("epochs")
        self._offset = None  # fixed at this fit's first epoch

    def on_epoch_begin(self, epoch, logs=None):
        if self._offset is None:
            # Keras numbers every fit's epochs from 0, except a resumed one (from the checkpoint's
            # epoch) or one given initial_epoch: only a fit starting at 0 continues our count.
            self._offset = self._epochs_seen if epoch == 0 else 0

    def on_epoch_end(self, epoch, logs=None):
        number = self._offset + epoch + 1
        self._epochs_seen = number
        last = self._epochs is not None and epoch + 1 == self._epochs
        if number % self.every and not last:
            return
        self.draw(f"epoch {number}", self.out_dir / f"step_{_generator_steps(self.model):07d}.png")

    def draw(self, title: str, path):
        """Draw the fixed noise now, save the PNG frame, and show it inline in a notebook."""
        path = Path(path)
        images = self.model.sample(z=self.z, labels=self.labels)
        fig = image_grid(images, ncols=self.ncols or math.ceil(math.sqrt(self.n)), value_range=self.value_range,
                         path=path, suptitle=title, cell_size=0.7)
        if path not in self.frames:
            self.frames.append(path)
        if self.show and _in_notebook():
            from IPython.display import display

            display(fig)
        return fig

    def save_gif(self, path=None, seconds_per_frame: float = 0.4) -> Path:
        """Write the frames drawn so far as an animated GIF; returns its path."""
        if not self.frames:
            raise ValueError("No frames yet: train with this callback first.")
        path = Path(path) if path is not None else self.out_dir / "training.gif"
        frames = [Image.open(p).convert("P", palette=Image.ADAPTIVE) for p in self.frames]
        frames[0].save(path, save_all=True, append_images=frames[1:], duration=int(seconds_per_frame * 1000), loop=0)
        return path


class FIDTracker(keras.callbacks.Callback):
    """The classifier FID of the GAN's samples every ``every`` epochs, against training time.

    A GAN's losses do not say whether its images get better; this does. After each check,
    ``history["seconds"]`` (training time so far, the checks' own time left out),
    ``history["steps"]`` (G's optimizer steps so far) and ``history["fid"]`` gain one value.
    The history carries on across several ``fit()`` calls, e.g. after a resumed interruption.

    Args:
        judge: a ``gan_utils.metrics.Judge``.
        n: samples per check, from the same fixed noise every time (2,000 takes about a
            second on a CPU; FID is only comparable at the same ``n``).
        every: check after every ``every``-th epoch.
        labels: conditional GANs: the label of each of the ``n`` samples.
        digits: the digits the GAN learns (None: all ten), as in ``metrics.evaluate``.
        value_range: the generator's output range, "tanh" or "sigmoid".
        seed: seed of the fixed noise (``GAN.noise``).
    """

    def __init__(self, judge, n: int = 2_000, every: int = 1, labels=None, digits=None,
                 value_range: str = "tanh", seed: int = 1):
        super().__init__()
        if not isinstance(every, int) or every < 1:
            raise ValueError(f"every must be a positive integer, got {every!r}.")
        self.judge, self.n, self.every, self.labels, self.digits = judge, n, every, labels, digits
        self.value_range, self.seed = value_range, seed
        self.history = {"seconds": [], "steps": [], "fid": []}
        self._trained = 0.0
        self._since = None

    def on_train_begin(self, logs=None):
        self._since = time.perf_counter()

    def on_train_end(self, logs=None):
        self._trained += time.perf_counter() - self._since  # an interrupted run's time counts too

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        now = time.perf_counter()
        self._trained += now - self._since
        images = self.model.sample(self.n, labels=self.labels, seed=self.seed)
        result = metrics.evaluate(self.judge, images, labels=self.labels, digits=self.digits,
                                  value_range=self.value_range)
        self.history["seconds"].append(self._trained)
        self.history["steps"].append(_generator_steps(self.model))
        self.history["fid"].append(result["fid"])
        self._since = time.perf_counter()  # the check itself is not training time


class StopOnNaN(keras.callbacks.Callback):
    """Stop training as soon as a logged value is NaN or infinite, and say what to try."""

    def __init__(self):
        super().__init__()
        self.message = None

    def on_train_batch_end(self, batch, logs=None):
        bad = {k: float(v) for k, v in (logs or {}).items() if not math.isfinite(float(v))}
        if bad:
            self.message = (
                f"Training stopped at batch {batch}: {', '.join(f'{k}={v}' for k, v in bad.items())}. "
                "A loss became NaN or infinite. Try a smaller learning rate, check that the images "
                "are in the generator's output range, and restart from a fresh model (or, with "
                "resume_from, from the checkpoint of the last good epoch, which is kept)."
            )
            print(self.message, file=sys.stderr)
            self.model.stop_training = True


class EpochTimer(keras.callbacks.Callback):
    """Wall-clock seconds of every epoch of ``fit()``, to price a training step without its set-up.

    The first epoch of a ``fit()`` also traces and optimises the training graph (seconds for a
    penalty's gradient of a gradient), so ``seconds_per_step`` uses the median of the later
    epochs when there are any.

    After ``fit()``: ``seconds`` (list of floats, one per epoch).
    """

    def __init__(self):
        super().__init__()
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)

    def seconds_per_step(self, steps_per_epoch: int) -> float:
        """Median seconds per step over the epochs after the first (the only one if there is one)."""
        if not self.seconds:
            raise ValueError("no epoch was timed: pass the EpochTimer to fit() first.")
        later = self.seconds[1:] or self.seconds
        return float(np.median(later)) / steps_per_epoch


class InterruptAtEpoch(keras.callbacks.Callback):
    """Raise ``KeyboardInterrupt`` after a given epoch: a stand-in for a crash or a closed laptop.

    Used to demonstrate (and test) that ``resume_from`` continues where training stopped.
    """

    def __init__(self, epoch: int):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epoch:
            raise KeyboardInterrupt(f"simulated interruption after epoch {self.epoch}")


class ResumeFrom(keras.callbacks.BackupAndRestore):
    """Keras's ``BackupAndRestore``, plus what an exact GAN resume needs (see ``resume_from``).

    Next to Keras's weights file and epoch number, it saves ``gan_state.json``: the epoch, the
    states of the model's random-number generators, and how many batches the run has trained
    on. ``GAN.fit`` calls ``resume_data`` before Keras reads the data, and puts this callback
    first, so that the model is restored before the other callbacks start.
    """

    STATE_FILE = "gan_state.json"

    def __init__(self, folder):
        super().__init__(str(folder))
        self.folder = Path(folder)
        self.kept_after_nan = False  # True when a NaN stop kept the last good checkpoint
        self._batches_before = 0
        self._steps_before = 0

    def batches_done(self) -> int:
        """How many batches the checkpointed run had trained on; 0 without a checkpoint."""
        state = self._saved_state()
        return state["data_batches"] if state else 0

    def resume_data(self, x, steps_per_epoch):
        """``fit``'s data and epoch length, moved on to the batch the checkpointed run would read next.

        Returns ``(x, steps_per_epoch)`` for ``fit``, unchanged when there is no checkpoint.
        """
        import tensorflow as tf

        done = self.batches_done()
        if not done:
            return x, steps_per_epoch
        if isinstance(x, tf.data.Dataset):
            return data.resume_stream(x, done, steps_per_epoch)
        if isinstance(x, tf.distribute.DistributedDataset):
            fix = "a distributed dataset cannot be moved on: give fit() the tf.data.Dataset, Keras distributes it"
        else:
            fix = "Keras reshuffles arrays at random: use gan_utils.data.as_dataset(...).repeat()"
        warnings.warn(
            f"Resuming after {done} batches: the weights, optimizers, epoch and random numbers come back, "
            f"but not the position in the data ({fix}).", stacklevel=3)
        return x, steps_per_epoch

    def on_train_begin(self, logs=None):
        compiled_rates = [(rate, keras.ops.convert_to_numpy(rate)) for rate in _learning_rates(self.model)]
        super().on_train_begin(logs)  # weights of G, D and the EMA copy, both optimizers, the epoch
        for rate, value in compiled_rates:
            rate.assign(value)  # the learning rates of this compile(), not the checkpoint's
        state = self._saved_state()
        if state is not None:
            self._check_matches_keras_metadata(state)
            _restore_random_states(self.model, state["rng"], self.folder)
        self._batches_before = state["data_batches"] if state else 0
        self._steps_before = _generator_steps(self.model)
        self.kept_after_nan = False

    def on_epoch_end(self, epoch, logs=None):
        if not _all_finite(logs):
            self.kept_after_nan = True  # this epoch went bad: keep the checkpoint of the last good one
            return
        self._write_state(epoch + 1)  # before Keras's metadata, which marks the checkpoint complete
        super().on_epoch_end(epoch, logs)

    def on_train_end(self, logs=None):
        if self.kept_after_nan:
            print(f"The checkpoint in {self.folder} holds the last good epoch and was kept: compile with a "
                  "smaller learning rate and run the same fit() to resume from it.", file=sys.stderr)
            return
        super().on_train_end(logs)  # training completed: delete the checkpoint

    def _write_state(self, epoch: int):
        state = {
            "epoch": epoch,
            "data_batches": self._batches_before + _generator_steps(self.model) - self._steps_before,
            "rng": [keras.ops.convert_to_numpy(v).tolist() for v in _random_states(self.model)],
        }
        self.folder.mkdir(parents=True, exist_ok=True)
        partial = self.folder / (self.STATE_FILE + ".partial")
        partial.write_text(json.dumps(state))
        partial.replace(self.folder / self.STATE_FILE)  # atomic: never a half-written file

    def _saved_state(self):
        path = self.folder / self.STATE_FILE
        if not path.exists() or not Path(self._training_metadata_path).exists():
            return None
        return json.loads(path.read_text())

    def _check_matches_keras_metadata(self, state):
        keras_epoch = json.loads(Path(self._training_metadata_path).read_text())["epoch"]
        if keras_epoch != state["epoch"]:
            raise ValueError(
                f"The checkpoint in {self.folder} is incomplete: its weights are from epoch {keras_epoch} but "
                f"its random-number and data state from epoch {state['epoch']} (the run stopped while "
                "saving). Delete the folder to start again.")


def resume_from(name: str, folder=None) -> ResumeFrom:
    """A callback that checkpoints every epoch and, on the next ``fit``, resumes exactly from it.

    Run the same ``fit`` call again after an interruption, even in a new session with newly
    built models, and it continues from the last finished epoch as if it had never stopped:
    a resumed run ends with the weights the uninterrupted run would have had, as close as two
    uninterrupted runs are to each other (bit for bit in the tests here, on a CPU; a GPU needs
    ``tf.config.experimental.enable_op_determinism()`` for that, even without a resume).

    Args:
        name: the checkpoint's folder under ``outputs/checkpoints``.
        folder: another folder instead. Use it for this one run only: Keras deletes it when
            training completes.

    Returns:
        A ``ResumeFrom`` callback for ``GAN.fit``.

    Saved after every epoch, and restored:

    * the weights of G, D and the moving-average copy of G (``ema_decay``), BatchNorm statistics
      included;
    * both optimizers' state: step counts (so learning-rate schedules and the EMA warm-up go on)
      and Adam's moment estimates;
    * the epoch number;
    * the random-number states: ``gan.seed_generator`` (training noise, DiffAugment's shifts,
      the wrong labels of ``mismatched_pairs``) and the layers' own (Dropout);
    * the data position, when ``GAN.fit`` is given ``data.as_dataset(...)`` or
      ``data.as_dataset(...).repeat()``: the resumed run reads the batches the interrupted one
      would have read next (see ``data.resume_stream``). Another ``tf.data`` pipeline is re-read
      from its start and skipped ahead, which is exact only if it was built anew with a seeded
      order; NumPy arrays are reshuffled by Keras at random (both give a warning). Under
      tf.distribute, Keras first reads one batch from a separate iterator to build the model,
      which moves tf.data's count of passes: everything above comes back, but a shuffled
      dataset resumes in another order (a fixed-order one resumes exactly; tried on two
      logical CPU devices).

    Not restored: the learning rates, which stay those of the resumed run's ``compile`` (so that
    a run stopped by a NaN can resume with a smaller one; one changed during the run by a
    callback such as ``ReduceLROnPlateau`` must be changed again); the History of the
    interrupted run; other callbacks' own records (reuse the same callback objects in one
    session to keep them); Python's and NumPy's global random state.

    The checkpoint is deleted when training completes. It is kept after an interruption, and
    after ``StopOnNaN`` stops a run: then it still holds the last epoch without a NaN.
    """
    folder = Path(folder) if folder is not None else config.output_dir("checkpoints", name)
    return ResumeFrom(folder)


def _random_states(model) -> list:
    """The states of a model's ``SeedGenerator``s (its own and its layers'), in a fixed order.

    ``model.variables`` holds the weights plus these states, and ``save_weights`` keeps only the
    weights. Two models built by the same code list them in the same order.
    """
    weights = {id(w) for w in model.weights}
    return [v for v in model.variables if id(v) not in weights]


def _restore_random_states(model, saved: list, folder):
    states = _random_states(model)
    if len(saved) != len(states):
        raise ValueError(
            f"The checkpoint in {folder} holds {len(saved)} random-number states but this model has "
            f"{len(states)}: it was saved from another model. Build the models as the interrupted run "
            "did, or delete the folder to start again.")
    for state, value in zip(states, saved):
        state.assign(keras.ops.convert_to_tensor(value, dtype=state.dtype))


def _learning_rates(model) -> list:
    """The optimizers' learning-rate variables (a schedule has none: it follows the step count)."""
    optimizers = [getattr(model, "d_optimizer", None), getattr(model, "g_optimizer", None), model.optimizer]
    rates = [getattr(o, "learning_rate", None) for o in optimizers if o is not None]
    return [r for r in rates if isinstance(r, keras.Variable)]


def _generator_steps(model) -> int:
    """G's optimizer steps so far: one per batch, since every training step reads one batch.

    Read through NumPy: under tf.distribute the counter is a MirroredVariable, which int() refuses.
    """
    optimizer = getattr(model, "g_optimizer", None) or model.optimizer
    return int(keras.ops.convert_to_numpy(optimizer.iterations))


def _all_finite(logs) -> bool:
    for value in (logs or {}).values():
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue  # not a number: nothing to check
        if not math.isfinite(number):
            return False
    return True


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and shell.__class__.__name__ == "ZMQInteractiveShell"


# --------------------------------------------------------------------------------------------
# Notebook 1: watching a 1-D GAN learn a density
# --------------------------------------------------------------------------------------------




class DensitySnapshots(keras.callbacks.Callback):
    """Watch a 1-D GAN learn: the JS divergence after every epoch, full snapshots at a few.

    The generator's samples come from one fixed noise batch, drawn once and kept apart from
    the training noise, so that every estimate looks at the same points ``z``. The model must
    be a ``gan_utils.training.GAN`` on 1-D data (it uses ``noise``, ``generator`` and
    ``discriminator``).

    Everything is measured on the raw generator ``model.generator``, the one D is trained
    against, even when the GAN keeps a moving average (``ema_decay``) and samples from it.
    ``D* = p_data / (p_data + p_g)`` is the best D against one particular G, so D is only
    comparable with the D* of the G it played: the EMA copy's D* answers a game D never saw.
    For the EMA copy's own JS, use ``toy.js_divergence`` on ``gan.sample(z=callback.z)``.

    Args:
        mixture: the data's ``toy.GaussianMixture``.
        grid: ``(m,)`` points where densities and D(x) are evaluated.
        snapshot_epochs: the epochs after which to keep a full ``toy.Snapshot``; 0 means before
            training. The last epoch is always kept.
        n_samples: size of the fixed noise batch.
        bandwidth: KDE bandwidth for ``p_g``; small next to the modes' widths.
        seed: seed of the fixed noise.

    After ``fit()``: ``epochs`` and ``js`` (lists, one entry per epoch plus the start; JS in
    nats, in [0, log 2]), ``snapshots`` (a list of ``toy.Snapshot``) and ``z`` (the fixed
    noise, float32 ``(n_samples, latent_dim)``).
    """

    def __init__(self, mixture: toy.GaussianMixture, grid, snapshot_epochs=(0,), n_samples: int = 5000,
                 bandwidth: float = 0.1, seed: int = 1234):
        super().__init__()
        self.mixture, self.grid = mixture, toy.as_grid(grid)
        self.p_data = mixture.pdf(self.grid)
        self.snapshot_epochs = {int(e) for e in snapshot_epochs}
        self.n_samples, self.bandwidth, self.seed = n_samples, bandwidth, seed
        self.z = None
        self.epochs: list[int] = []
        self.js: list[float] = []
        self.snapshots: list[toy.Snapshot] = []

    def on_train_begin(self, logs=None):
        if self.z is None:
            self.z = self.model.noise(self.n_samples, seed=self.seed)
        self._last = self.params.get("epochs")
        if not self.epochs:  # the untrained generator, once (not again on a second fit())
            self.record(0, keep=0 in self.snapshot_epochs)

    def on_epoch_end(self, epoch, logs=None):
        done = (self.epochs[-1] if self.epochs else 0) + 1
        self.record(done, keep=done in self.snapshot_epochs or epoch + 1 == self._last)

    def record(self, epoch: int, keep: bool = True) -> toy.Snapshot | None:
        """Measure the model now: append to ``epochs``/``js``, and to ``snapshots`` if ``keep``."""
        samples = np.asarray(self.model.generator(self.z, training=False), dtype=np.float32)[:, 0]
        p_g = toy.kde(samples, self.grid, self.bandwidth)
        js = toy.js_divergence(self.p_data, p_g, self.grid)
        self.epochs.append(epoch)
        self.js.append(js)
        if not keep:
            return None
        d = discriminator_curve(self.model.discriminator, self.grid)
        d_star = toy.optimal_discriminator(self.p_data, p_g)
        snap = toy.Snapshot(epoch, samples, p_g, d, d_star, js, toy.weighted_error(d, d_star, self.p_data, self.grid))
        self.snapshots.append(snap)
        return snap


class PointSnapshots(keras.callbacks.Callback):
    """Watch a 2-D GAN: G's points and the mode metrics after every epoch (and before training).

    Like ``DensitySnapshots``, it reads the raw generator ``model.generator`` (the one D plays
    against) on one fixed noise batch, so that every snapshot looks at the same ``z``.

    Args:
        mixture: the data's ``toy2d.Mixture2D``.
        n_samples: size of the fixed noise batch.
        seed: seed of the fixed noise.

    After ``fit()``: ``epochs`` (list of ints, 0 = before training), ``points`` (one float32
    ``(n_samples, 2)`` array per epoch) and ``reports`` (one ``toy2d.ModeReport`` per epoch).
    """

    def __init__(self, mixture: toy2d.Mixture2D, n_samples: int = 2_000, seed: int = 1234):
        super().__init__()
        self.mixture, self.n_samples, self.seed = mixture, n_samples, seed
        self.z = None
        self.epochs: list[int] = []
        self.points: list[np.ndarray] = []
        self.reports: list[toy2d.ModeReport] = []

    def on_train_begin(self, logs=None):
        if self.z is None:
            self.z = self.model.noise(self.n_samples, seed=self.seed)
        if not self.epochs:
            self.record(0)

    def on_epoch_end(self, epoch, logs=None):
        self.record(self.epochs[-1] + 1)

    def record(self, epoch: int) -> toy2d.ModeReport:
        """Sample the fixed noise now and append the points and their ``ModeReport``."""
        points = np.asarray(self.model.generator(self.z, training=False), dtype=np.float32)
        report = toy2d.mode_report(points, self.mixture) if np.all(np.isfinite(points)) else None
        self.epochs.append(epoch)
        self.points.append(points)
        self.reports.append(report)
        return report

    @property
    def modes_covered(self) -> list[int]:
        """Modes covered at each recorded epoch (0 where G's points were not finite)."""
        return [r.modes_covered if r is not None else 0 for r in self.reports]

    @property
    def high_quality(self) -> list[float]:
        """High-quality share at each recorded epoch (0 where G's points were not finite)."""
        return [r.high_quality if r is not None else 0.0 for r in self.reports]

    def dominant_modes(self, threshold: float = 0.5) -> list[frozenset]:
        """At each epoch, the modes holding a share of at least ``threshold / covered modes`` of the
        close samples: the set of modes G is on. A collapsed G that hops changes this set."""
        sets = []
        for r in self.reports:
            if r is None or r.shares.sum() == 0:
                sets.append(frozenset())
                continue
            shares = r.shares / r.shares.sum()
            sets.append(frozenset(np.flatnonzero(shares >= threshold / max(r.modes_covered, 1)).tolist()))
        return sets
