"""Exact resuming: a run interrupted after some epochs goes on as if it had never stopped.

``resume_from(name)`` gives a callback for ``GAN.fit``. It saves a checkpoint after every
finished epoch and, when the same ``fit`` is run again (even after a kernel restart, with
newly built models), restores it and moves the data on to the batch the interrupted run would
have read next. Everything that makes a resume exact lives here:

* the checkpoint: the weights of G, D and the moving-average G, both optimizers (step counts
  and Adam's moments), the epoch, the random-number states and the data position;
* how a checkpoint is written so that a crash while saving never loses the last good one;
* the data position of a ``data.as_dataset`` pipeline (``resume_stream``).

A checkpoint folder holds one sub-folder per saved epoch, ``epoch-000003/`` with
``model.weights.h5`` and ``state.json``. A new one is written under a temporary name and
renamed into place when complete, and the previous one is deleted only after that; the newest
two are kept. The folder is deleted when training completes.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import uuid
import warnings
import weakref
from pathlib import Path

from .backend import require_tensorflow

require_tensorflow()

import keras  # noqa: E402

from . import config  # noqa: E402

FORMAT = 1  # the checkpoint layout below; bump when it changes
WEIGHTS_FILE = "model.weights.h5"
STATE_FILE = "state.json"
KEEP = 2  # complete checkpoints kept: the newest, and the one before it in case the newest is damaged


class ResumeFrom(keras.callbacks.Callback):
    """Checkpoint after every epoch; restore the newest good checkpoint when training begins.

    Use ``resume_from`` to make one. ``GAN.fit`` calls ``prepare_fit``, which puts this callback
    first (so that the other callbacks see the restored model) and moves the data on.

    Attributes:
        folder: where the checkpoints live.
        kept_after_nan: True after a run that a NaN stopped: the checkpoint of the last good
            epoch is kept, to resume from with a smaller learning rate.
    """

    def __init__(self, folder):
        super().__init__()
        self.folder = Path(folder)
        self.kept_after_nan = False
        self._data_batches = 0  # batches the run has read so far, the interrupted part included
        self._epoch_start = 0

    # -- what the next fit() needs before Keras reads the data ------------------------------

    def batches_done(self) -> int:
        """How many batches the checkpointed run had trained on; 0 without a checkpoint."""
        checkpoint = self._newest_readable()
        return checkpoint[1]["data_batches"] if checkpoint else 0

    def resume_data(self, x, steps_per_epoch):
        """``fit``'s data and epoch length, moved on to the batch the checkpointed run would read next."""
        import tensorflow as tf

        done = self.batches_done()
        if not done:
            return x, steps_per_epoch
        if isinstance(x, tf.data.Dataset):
            return resume_stream(x, done, steps_per_epoch)
        if isinstance(x, tf.distribute.DistributedDataset):
            fix = "a distributed dataset cannot be moved on: give fit() the tf.data.Dataset, Keras distributes it"
        else:
            fix = "Keras reshuffles arrays at random: use gan_utils.data.as_dataset(...).repeat()"
        warnings.warn(
            f"Resuming after {done} batches: the weights, optimizers, epoch and random numbers come back, "
            f"but not the position in the data ({fix}).", stacklevel=4)
        return x, steps_per_epoch

    # -- Keras's hooks ----------------------------------------------------------------------

    def on_train_begin(self, logs=None):
        self.kept_after_nan = False
        checkpoint = self._newest_readable()
        if checkpoint is not None:
            self._restore(*checkpoint)
        self._data_batches = checkpoint[1]["data_batches"] if checkpoint else 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = self.model.generator_steps

    def on_epoch_end(self, epoch, logs=None):
        # Keras reads params["steps"] batches per epoch; G's update count would miss the steps
        # that mixed precision skips, so it only stands in when Keras does not know the count.
        self._data_batches += self.params.get("steps") or self.model.generator_steps - self._epoch_start
        if not _all_finite(logs):
            self.kept_after_nan = True  # this epoch went bad: keep the checkpoint of the last good one
            return
        self._save(epoch + 1)

    def on_train_end(self, logs=None):
        if self.kept_after_nan:
            print(f"The checkpoint in {self.folder} holds the last good epoch and was kept: compile with a "
                  "smaller learning rate and run the same fit() to resume from it.", file=sys.stderr)
            return
        shutil.rmtree(self.folder, ignore_errors=True)  # training completed: nothing to resume

    # -- writing ----------------------------------------------------------------------------

    def _save(self, epoch: int):
        state = {
            "format": FORMAT,
            "epoch": epoch,
            "data_batches": self._data_batches,
            "rng": [keras.ops.convert_to_numpy(v).tolist() for v in random_states(self.model)],
        }
        self.folder.mkdir(parents=True, exist_ok=True)
        partial = self.folder / f".writing-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        partial.mkdir()
        self.model.save_weights(partial / WEIGHTS_FILE)
        (partial / STATE_FILE).write_text(json.dumps(state))
        final = self.folder / f"epoch-{epoch:06d}"
        if final.exists():  # a rerun of an epoch already saved (fit called again with the same folder)
            shutil.rmtree(final)
        os.replace(partial, final)  # atomic: a checkpoint folder is complete or absent
        for old in _complete_checkpoints(self.folder)[KEEP:]:
            shutil.rmtree(old, ignore_errors=True)

    # -- reading ----------------------------------------------------------------------------

    def _newest_readable(self):
        """``(folder, state)`` of the newest checkpoint whose files can be read, or None.

        A checkpoint folder is renamed into place only when complete, so a crash while saving
        leaves the previous one; a checkpoint damaged later (an unreadable state or weights
        file) is skipped, with a message, in favour of the one before it.
        """
        import h5py

        for folder in _complete_checkpoints(self.folder):
            try:
                state = json.loads((folder / STATE_FILE).read_text())
                if state.get("format") != FORMAT:
                    raise ValueError(f"not a format-{FORMAT} checkpoint")
                with h5py.File(folder / WEIGHTS_FILE, "r"):
                    pass
                return folder, state
            except (OSError, ValueError, KeyError) as error:
                print(f"Skipping the unreadable checkpoint {folder} ({type(error).__name__}: {error}).",
                      file=sys.stderr)
        return None

    def _restore(self, folder: Path, state: dict):
        try:
            self._load(folder, state)
        except Exception as error:
            raise ValueError(
                f"The checkpoint {folder} does not fit this model ({type(error).__name__}: {error}). Build the "
                "models and compile the GAN as the interrupted run did, or delete the folder to start again."
            ) from error

    def _load(self, folder: Path, state: dict):
        compiled_rates = [(rate, keras.ops.convert_to_numpy(rate)) for rate in learning_rates(self.model)]
        self.model.load_weights(folder / WEIGHTS_FILE)
        for rate, value in compiled_rates:
            rate.assign(value)  # the learning rates of this compile(), not the checkpoint's
        restore_random_states(self.model, state["rng"], folder)
        self.model._initial_epoch = state["epoch"]  # Keras's fit() starts from here (what BackupAndRestore sets)


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


def resume_from(name: str, folder=None) -> ResumeFrom:
    """A callback that checkpoints every epoch and, on the next ``fit``, resumes exactly from it.

    Run the same ``fit`` call again after an interruption, even in a new session with newly
    built models, and it continues from the last finished epoch as if it had never stopped:
    a resumed run ends with the weights the uninterrupted run would have had, bit for bit on a
    CPU (a GPU needs ``tf.config.experimental.enable_op_determinism()`` for that, even
    without a resume).

    Args:
        name: the checkpoint's folder under ``outputs/checkpoints``.
        folder: another folder instead. Use it for this one run only: it is deleted when
            training completes.

    Returns:
        A ``ResumeFrom`` callback for ``GAN.fit``.

    Restored: the weights of G, D and the moving-average G (BatchNorm statistics included);
    both optimizers' step counts and moments; the epoch; the random-number states of the GAN
    (training noise, DiffAugment's shifts, wrong labels) and of its layers (Dropout); and the
    position in the data when ``fit`` gets ``data.as_dataset(...)`` or ``...repeat()`` (another
    pipeline is read again from its start and skipped ahead; NumPy arrays are reshuffled by
    Keras; both with a warning).

    Not restored: the learning rates, which stay those of the resumed run's ``compile`` (so
    that a run stopped by a NaN can resume with a smaller one); the History of the interrupted
    run; other callbacks' own records (reuse the same callback objects in one session to keep
    them); Python's and NumPy's global random state.
    """
    folder = Path(folder) if folder is not None else config.output_dir("checkpoints", name)
    return ResumeFrom(folder)


def prepare_fit(x, steps_per_epoch, callbacks: list):
    """``GAN.fit``'s one hook: with a ``ResumeFrom`` among ``callbacks``, put it first and move the data on.

    Returns:
        ``(x, steps_per_epoch, callbacks)`` for Keras's ``fit``; unchanged without a resume.
    """
    resumes = [c for c in callbacks if isinstance(c, ResumeFrom)]
    if len(resumes) > 1:
        raise ValueError(f"fit() got {len(resumes)} resume_from callbacks; pass one.")
    if not resumes:
        return x, steps_per_epoch, callbacks
    x, steps_per_epoch = resumes[0].resume_data(x, steps_per_epoch)
    return x, steps_per_epoch, resumes + [c for c in callbacks if c is not resumes[0]]


def _complete_checkpoints(folder: Path) -> list[Path]:
    """The complete checkpoint folders, newest first (a half-written one has a temporary name)."""
    if not folder.is_dir():
        return []
    return sorted((p for p in folder.glob("epoch-*") if p.is_dir()), key=lambda p: p.name, reverse=True)


# --------------------------------------------------------------------------------------------
# Random-number states and learning rates
# --------------------------------------------------------------------------------------------

def random_states(model) -> list:
    """The states of a model's ``SeedGenerator``s (its own and its layers'), in a fixed order.

    ``model.variables`` holds the weights plus these states, and ``save_weights`` keeps only the
    weights. Two models built by the same code list them in the same order.
    """
    weights = {id(w) for w in model.weights}
    return [v for v in model.variables if id(v) not in weights]


def restore_random_states(model, saved: list, folder):
    states = random_states(model)
    if len(saved) != len(states):
        raise ValueError(
            f"The checkpoint in {folder} holds {len(saved)} random-number states but this model has "
            f"{len(states)}: it was saved from another model. Build the models as the interrupted run "
            "did, or delete the folder to start again.")
    for state, value in zip(states, saved):
        state.assign(keras.ops.convert_to_tensor(value, dtype=state.dtype))


def learning_rates(model) -> list:
    """The optimizers' learning-rate variables (a schedule has none: it follows the step count)."""
    optimizers = [getattr(model, "d_optimizer", None), getattr(model, "g_optimizer", None), model.optimizer]
    rates = [getattr(o, "learning_rate", None) for o in optimizers if o is not None]
    return [r for r in rates if isinstance(r, keras.Variable)]


def _all_finite(logs) -> bool:
    for value in (logs or {}).values():
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue  # not a number: nothing to check
        if not math.isfinite(number):
            return False
    return True


# --------------------------------------------------------------------------------------------
# The data position
# --------------------------------------------------------------------------------------------

# How to rebuild each dataset ``data.as_dataset`` made, so that a resumed run can read the same
# batches again. Weak keys: a dataset nobody uses any more takes its recipe with it.
_RECIPES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def remember_recipe(dataset, recipe) -> None:
    """Record how ``dataset`` was built (a function returning an identical fresh copy)."""
    _RECIPES[dataset] = recipe


def resume_stream(x, batches_done: int, steps_per_epoch: int | None = None):
    """The data for a resumed ``fit``: ``x`` as the interrupted run read it, from a given batch on.

    ``fit`` reads every batch once, in order, across its epochs. A resumed run must go on with
    the batch the interrupted one would have read next: its batch number ``batches_done``.

    * ``as_dataset(...)`` and ``as_dataset(...).repeat()``: exact. A fresh copy is built with the
      same seeds (tf.data counts its passes inside the dataset object, so the object given to
      ``fit`` may already be further on), and ``batches_done`` batches are skipped.
    * Any other dataset is read again from its start and skipped ahead, with a warning: that
      is exact only if it is a new object with a seeded order, e.g. rebuilt after a restart.

    Args:
        x: the ``tf.data.Dataset`` given to ``fit``, finite or endless.
        batches_done: how many batches the interrupted run trained on.
        steps_per_epoch: ``fit``'s argument; None means one pass over a finite ``x`` per epoch.

    Returns:
        ``(dataset, steps_per_epoch)`` for ``fit``: an endless dataset that starts at batch
        ``batches_done``, and the epoch length of the interrupted run.
    """
    import tensorflow as tf

    if not isinstance(x, tf.data.Dataset):
        raise TypeError(f"resume_stream needs a tf.data.Dataset, got {type(x).__name__}.")
    cardinality = int(x.cardinality())
    if cardinality == tf.data.UNKNOWN_CARDINALITY:
        warnings.warn("The resumed run starts at the beginning of the data: the dataset's length is unknown "
                      "(e.g. after .filter), so its position cannot be found. Use as_dataset(...).repeat() "
                      "for an exact resume.", stacklevel=5)
        return x, steps_per_epoch
    recipe = _recipe_of(x)
    if recipe is None:
        warnings.warn(
            f"This dataset was not made by gan_utils.data.as_dataset, so the resumed run reads it again "
            f"from its start and skips the {batches_done} batches already trained on. That continues the "
            "interrupted run exactly only if the dataset was built anew (as after a kernel restart) with a "
            "seeded order.", stacklevel=5)
    stream = recipe() if recipe is not None else x
    if cardinality != tf.data.INFINITE_CARDINALITY:
        # fit() starts a new pass over a finite dataset when the last one runs out: the same as
        # one endless stream, as long as its epochs end at pass ends (Keras cuts them short otherwise).
        steps_per_epoch = steps_per_epoch or cardinality
        if cardinality % steps_per_epoch:
            warnings.warn(
                f"The resumed run's epochs may not match the interrupted run's: steps_per_epoch="
                f"{steps_per_epoch} does not divide the {cardinality} batches of one pass, and Keras ends an "
                "epoch early when a finite dataset runs out. Use as_dataset(...).repeat() for an exact resume.",
                stacklevel=5)
        stream = stream.repeat()
    elif recipe is not None:
        stream = stream.repeat()  # x was as_dataset(...).repeat()
    return stream.skip(batches_done), steps_per_epoch


def _recipe_of(x):
    """How to rebuild ``x`` if it is ``as_dataset(...)`` or ``as_dataset(...).repeat()``; else None."""
    import tensorflow as tf

    if x in _RECIPES:
        return _RECIPES[x]
    parent = getattr(x, "_input_dataset", None)  # what .repeat() was applied to
    # From a finite parent, only .repeat() with no count makes an endless dataset.
    if parent is not None and parent in _RECIPES and int(x.cardinality()) == tf.data.INFINITE_CARDINALITY:
        return _RECIPES[parent]
    return None
