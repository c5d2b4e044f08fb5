"""Keras callbacks for GAN training: progress pictures, a GIF, FID over time, a NaN guard, resuming."""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import keras
from PIL import Image

from . import config, metrics
from .plotting import image_grid


class SampleGrid(keras.callbacks.Callback):
    """Draw the same fixed noise through the generator every ``every`` epochs.

    The noise is fixed once, apart from the training noise, so that the *same* digits
    visibly sharpen from one grid to the next and in the GIF.

    Args:
        n: images per grid.
        every: draw after every ``every``-th epoch (and always after the last).
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

    def on_train_begin(self, logs=None):
        if self.z is None:  # kept across several fit() calls, so frames stay comparable
            self.z = self.model.noise(self.n, seed=self.seed)
        self._epochs = self.params.get("epochs")

    def on_epoch_end(self, epoch, logs=None):
        last = self._epochs is not None and epoch + 1 == self._epochs
        if (epoch + 1) % self.every and not last:
            return
        self.draw(f"epoch {epoch + 1}", self.out_dir / f"epoch_{epoch + 1:04d}.png")

    def draw(self, title: str, path):
        """Draw the fixed noise now, save the PNG frame, and show it inline in a notebook."""
        images = self.model.sample(z=self.z, labels=self.labels)
        fig = image_grid(images, ncols=self.ncols or math.ceil(math.sqrt(self.n)), value_range=self.value_range,
                         path=path, suptitle=title, cell_size=0.7)
        if path not in self.frames:
            self.frames.append(Path(path))
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
        self.history["steps"].append(int(self.model.g_optimizer.iterations))
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
                "are in the generator's output range, and restart from a fresh model."
            )
            print(self.message, file=sys.stderr)
            self.model.stop_training = True


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


def resume_from(name: str, folder=None) -> keras.callbacks.BackupAndRestore:
    """A callback that checkpoints every epoch and, on the next ``fit``, resumes from it.

    Weights of both networks, both optimizers and the epoch number are saved in
    ``outputs/checkpoints/<name>`` (or ``folder``). Run the same ``fit`` call again after an
    interruption and it continues from the last finished epoch. The checkpoint is deleted when
    training completes.
    """
    folder = Path(folder) if folder is not None else config.output_dir("checkpoints", name)
    return keras.callbacks.BackupAndRestore(str(folder))


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and shell.__class__.__name__ == "ZMQInteractiveShell"
