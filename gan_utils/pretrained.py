"""The trained generators that ship with the series: a class sees full results at once.

``tools/train_generators.py`` trains each notebook's main model on full MNIST at a long budget
(``gan_utils.recipes``), keeps its best checkpoint, and writes two files here, in
``gan_utils/trained/``: ``<name>.npz``, the generator's weights (the moving-average copy where
the recipe has one), and ``<name>.json``, its run record: the recipe, the steps, the time, the
judge's figures beside real data's, the versions and the weights' checksum.

    from gan_utils import pretrained
    dcgan = pretrained.load("dcgan")           # checks the checksum, rebuilds the network
    images = dcgan.sample(64, seed=1)          # (64, 28, 28, 1) in dcgan.value_range
    dcgan.record["figures"]["fid"]             # what the judge measured when it was trained

The weights are stored without the architecture, which ``gan_utils.models`` rebuilds from the
record, so that they load on every Keras 3 version the series supports.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from .backend import require_tensorflow

require_tensorflow()

from . import models  # noqa: E402
from .training import Sampling, _num_classes  # noqa: E402

FOLDER = Path(__file__).resolve().parent / "trained"
FIX = ("Reinstall gan_utils (in Colab: run the notebook's first cell again; locally: pip install -e .), "
       "or train it again with `python tools/train_generators.py --only {name}`.")


def names() -> list[str]:
    """The names of the generators that ship with this copy of the package, sorted."""
    return sorted(path.stem for path in FOLDER.glob("*.json"))


def record(name: str) -> dict:
    """The run record of generator ``name`` (see the module docstring), read from its JSON file."""
    path = FOLDER / f"{name}.json"
    if not path.is_file():
        shipped = ", ".join(names()) or "none"
        raise FileNotFoundError(f"No trained generator named {name!r}: {path} is missing (shipped: {shipped}). "
                                + FIX.format(name=name))
    try:
        return json.loads(path.read_text())
    except ValueError as error:
        raise ValueError(f"The record {path} is damaged ({error}). " + FIX.format(name=name)) from error


def checksum(path) -> str:
    """The SHA-256 of a file's bytes, as hex."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def load(name: str) -> Pretrained:
    """Load the shipped generator ``name``: check its file against the record's checksum, rebuild it.

    Raises:
        FileNotFoundError: the generator's files are missing (the message names them and the fix).
        ValueError: a file is damaged: its checksum or its weights do not match the record.
    """
    info = record(name)
    path = FOLDER / info["weights"]["file"]
    if not path.is_file():
        raise FileNotFoundError(f"The weights of {name!r} are missing: {path}. " + FIX.format(name=name))
    if checksum(path) != info["weights"]["sha256"]:
        raise ValueError(f"The weights file {path} is damaged: its SHA-256 differs from the record's. "
                         + FIX.format(name=name))
    return Pretrained(name, build_generator(info), info, path)


def build_generator(info: dict):
    """The record's architecture, untrained: ``gan_utils.models.<builder>(**kwargs)``."""
    builder, kwargs = info["generator"]["builder"], info["generator"]["kwargs"]
    return getattr(models, builder)(**kwargs)


def save(name: str, generator, info: dict, dtype: str = "float16") -> dict:
    """Write ``generator``'s weights (cast to ``dtype``) and its record; returns the record as written.

    ``info`` is the record without its "weights" entry, which this adds: the file, dtype, the
    number of weights and the checksum.
    """
    FOLDER.mkdir(parents=True, exist_ok=True)
    path = FOLDER / f"{name}.npz"
    arrays = {f"w{i:03d}": np.asarray(w).astype(dtype) for i, w in enumerate(generator.get_weights())}
    np.savez_compressed(path, **arrays)
    info = {**info, "weights": {"file": path.name, "dtype": dtype, "count": int(generator.count_params()),
                                "bytes": path.stat().st_size, "sha256": checksum(path)}}
    (FOLDER / f"{name}.json").write_text(json.dumps(info, indent=1) + "\n")
    return info


def _read_weights(path: Path, generator, name: str) -> list:
    with np.load(path) as archive:
        arrays = [archive[key].astype(np.float32) for key in sorted(archive.files)]
    expected = [tuple(w.shape) for w in generator.weights]
    if [a.shape for a in arrays] != expected:
        raise ValueError(f"The weights in {path} do not fit the recorded architecture ({len(arrays)} arrays for "
                         f"{len(expected)} weights). " + FIX.format(name=name))
    return arrays


class Pretrained(Sampling):
    """A shipped generator, ready to sample: ``sample()``, ``noise()`` and ``value_range`` as a GAN has.

    Attributes:
        name: its name, e.g. "dcgan".
        generator: the Keras generator, float32, weights loaded (the moving-average copy where
            the recipe keeps one, so ``sample``'s ``use_ema`` changes nothing).
        record: the run record (a dict): recipe, steps, time, figures, versions.
        value_range: "tanh" or "sigmoid", the range of its images.
    """

    def __init__(self, name: str, generator, info: dict, path: Path):
        generator.set_weights(_read_weights(path, generator, name))
        self.name, self.generator, self.record = name, generator, info
        self.latent_dim = int(generator.inputs[0].shape[-1])
        self.conditional = len(generator.inputs) == 2
        self.num_classes = _num_classes(generator) if self.conditional else None
        self.value_range = models.output_range(generator)

    def __repr__(self) -> str:
        return f"Pretrained({self.name!r}, {self.record['steps']:,} steps: {self.record['title']})"

    def _sampling_model(self, use_ema: bool):
        return self.generator
