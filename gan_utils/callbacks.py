"""Keras callbacks that watch GAN training: progress pictures and a GIF, FID over training time, a
NaN guard, epoch timing, notebook 1's density snapshots of a 1-D GAN and notebook 5's point
snapshots of a 2-D GAN. (Exact resuming is ``gan_utils.resume``.)

The image callbacks read the generator's output range from the GAN (``GAN.value_range``), so
that the pictures and figures cannot be computed in the wrong range.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

from .backend import require_tensorflow

require_tensorflow()

import keras  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from . import config, metrics, toy, toy2d  # noqa: E402
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
        seed: seed of the fixed noise.
        show: also display each grid inline when running in a notebook.
    """

    def __init__(self, n: int = 16, every: int = 1, out_dir=None, labels=None, seed: int = 1234, show: bool = True,
                 ncols: int | None = None):
        super().__init__()
        if every < 1:
            raise ValueError(f"every must be a positive integer, got {every!r}.")
        self.n, self.every, self.labels = n, every, labels
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
        self.draw(f"epoch {number}", self.out_dir / f"step_{self.model.generator_steps:07d}.png")

    def draw(self, title: str, path):
        """Draw the fixed noise now, save the PNG frame, and show it inline in a notebook."""
        path = Path(path)
        images = self.model.sample(z=self.z, labels=self.labels)
        fig = image_grid(images, ncols=self.ncols or math.ceil(math.sqrt(self.n)), value_range=self.model.value_range,
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
    ``history["seconds"]`` (time spent in training steps so far), ``history["steps"]`` (G's
    optimizer steps so far) and ``history["fid"]`` gain one value. The history carries on
    across several ``fit()`` calls, e.g. after a resumed interruption.

    Only the training batches are timed: not the checks, and not other callbacks' work at an
    epoch's end (pictures, checkpoints), so that two runs with different callbacks are
    compared on one time axis. The batches of an interrupted epoch count too.

    Args:
        judge: a ``gan_utils.judge.Judge``.
        n: samples per check, from the same fixed noise every time (FID is only comparable
            at the same ``n``).
        every: check after every ``every``-th epoch.
        labels: conditional GANs: the label of each of the ``n`` samples.
        digits: the digits the GAN learns (None: all ten), as in ``metrics.evaluate``.
        seed: seed of the fixed noise (``GAN.noise``).
    """

    def __init__(self, judge, n: int = 2_000, every: int = 1, labels=None, digits=None, seed: int = 1):
        super().__init__()
        if not isinstance(every, int) or every < 1:
            raise ValueError(f"every must be a positive integer, got {every!r}.")
        self.judge, self.n, self.every, self.labels, self.digits, self.seed = judge, n, every, labels, digits, seed
        self.history = {"seconds": [], "steps": [], "fid": []}
        self.seconds = 0.0  # time in training batches so far, across fit() calls
        self._batch_start = None

    def on_train_batch_begin(self, batch, logs=None):
        self._batch_start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.seconds += time.perf_counter() - self._batch_start

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        images = self.model.sample(self.n, labels=self.labels, seed=self.seed)
        result = metrics.evaluate(self.judge, images, labels=self.labels, digits=self.digits,
                                  value_range=self.model.value_range)
        self.history["seconds"].append(self.seconds)
        self.history["steps"].append(self.model.generator_steps)
        self.history["fid"].append(result["fid"])


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
