"""Run-wide settings: quick mode, size picking, seeding and the output folder.

Quick mode shrinks every training run so that CI (and an impatient class) can execute a
notebook in seconds. It is switched on by the environment variable ``GAN_UTILS_QUICK``.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np

QUICK_ENV = "GAN_UTILS_QUICK"
TRAIN_FULL_ENV = "GAN_UTILS_TRAIN_FULL"
OUTPUT_ENV = "GAN_UTILS_OUTPUT"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def parse_flag(value: str | None, name: str = QUICK_ENV) -> bool:
    """Parse a boolean environment value strictly.

    Args:
        value: the raw string, or None when the variable is unset.
        name: the variable's name, used in the error message.

    Returns:
        True for 1/true/yes/on, False for 0/false/no/off, an empty string or None
        (case-insensitive, surrounding spaces ignored).

    Raises:
        ValueError: for anything else, naming the variable and the accepted values.
    """
    if value is None:
        return False
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(
        f"{name}={value!r} is not a valid switch: use 1/true/yes/on to turn it on "
        f"or 0/false/no/off to turn it off (for example `export {name}=1`)."
    )


def quick_mode() -> bool:
    """True when ``GAN_UTILS_QUICK`` asks for tiny runs (read fresh on every call)."""
    return parse_flag(os.environ.get(QUICK_ENV), QUICK_ENV)


def train_full() -> bool:
    """True when ``GAN_UTILS_TRAIN_FULL`` asks the notebooks to train their full budgets.

    By default a notebook trains a short live run to watch the learning, then loads the trained
    generator that ships with the series (``gan_utils.pretrained``) for the results. A student
    with time or a GPU sets ``GAN_UTILS_TRAIN_FULL=1`` (or the notebook's ``TRAIN_FULL = True``)
    to train the full budget on the page instead.
    """
    return parse_flag(os.environ.get(TRAIN_FULL_ENV), TRAIN_FULL_ENV)


def pick(full, quick):
    """Return ``quick`` in quick mode and ``full`` otherwise.

    Example: ``steps = pick(full=20_000, quick=50)``.
    """
    return quick if quick_mode() else full


def set_seed(seed: int = 42) -> int:
    """Seed Python, NumPy and TensorFlow/Keras so that a notebook re-runs identically.

    TensorFlow is seeded only when it is installed, so this also works in lightweight tools.

    Returns:
        The seed, so that a notebook can print it.
    """
    seed = check_seed(seed)
    random.seed(seed)
    np.random.seed(seed)
    try:
        import keras
    except ImportError:  # TensorFlow/Keras not installed: nothing more to seed
        return seed
    keras.utils.set_random_seed(seed)
    _reset_keras_global_seed_generator()
    return seed


def _reset_keras_global_seed_generator() -> None:
    """Forget Keras's global ``SeedGenerator`` (the one unseeded ``keras.random`` calls use).

    Keras 3.9 and later do this in ``set_random_seed``; Keras 3.8 (Colab's) keeps the generator
    it made first, so that unseeded random numbers would not repeat after a second
    ``set_seed``. The generator is made again, from the new seed, at its next use.
    """
    try:
        from keras.src.backend.common import global_state
    except ImportError:  # a Keras whose internals moved: its own set_random_seed is then the newer one
        return
    global_state.set_global_attribute("global_seed_generator", None)


def check_seed(seed) -> int:
    """Return ``seed`` as an int, or raise a ValueError unless it is a non-negative integer."""
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}.")
    return int(seed)


def output_dir(*parts: str) -> Path:
    """The git-ignored folder for figures, GIFs and checkpoints, created on demand.

    It is ``outputs/`` under the current directory's project root (or ``GAN_UTILS_OUTPUT``
    when set), plus any sub-folders given in ``parts``.
    """
    base = os.environ.get(OUTPUT_ENV)
    root = Path(base) if base else _project_root() / "outputs"
    path = root.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _project_root() -> Path:
    """The nearest folder at or above the working directory holding ``pyproject.toml``."""
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").exists() and (folder / "gan_utils").is_dir():
            return folder
    return here


def describe_runtime() -> str:
    """One paragraph about where this notebook runs: Colab or not, GPU or not, quick mode.

    Colab users without a GPU are told how to switch the runtime.
    """
    import sys

    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    in_colab = "google.colab" in sys.modules
    lines = [f"TensorFlow {tf.__version__}, Keras {_keras_version()}"]
    if gpus:
        lines.append(f"GPU: {len(gpus)} found ({gpus[0].name}); training runs on it. The image notebooks' "
                     "convolutional networks gain most; small MLPs gain little (the README's table "
                     "gives estimated GPU times).")
    else:
        lines.append("GPU: none, training runs on the CPU.")
        if in_colab:
            lines.append(
                "In Colab, switch to a GPU with Runtime > Change runtime type > "
                "Hardware accelerator: GPU, then run all cells again."
            )
    if quick_mode():
        lines.append(
            f"QUICK MODE is ON ({QUICK_ENV}): every training run is shrunk to seconds, so "
            "results are rough. Unset it for the real thing."
        )
    else:
        lines.append(f"Quick mode is off: full-size runs ({QUICK_ENV}=1 shrinks them).")
    return "\n".join(lines)


def _keras_version() -> str:
    import keras

    return keras.__version__
