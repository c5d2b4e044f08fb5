"""Train the generators that ship with the series, on full MNIST, and write their run records.

    GAN_UTILS_MNIST=/path/to/mnist.npz python tools/train_generators.py --only dcgan
    GAN_UTILS_MNIST=/path/to/mnist.npz python tools/train_generators.py --only mlp_twos --max-steps 40000
    GAN_UTILS_MNIST=sample python tools/train_generators.py --check dcgan   # the CI-sized check on the sample

Each generator follows its recipe (``gan_utils.recipes``). An image model trains until the
best checkpoint has not improved for ``--patience`` evaluations, or ``--max-steps``; every
``--eval-every`` steps the judge scores 5,000 samples against real data at the same size, and
the best checkpoint is kept, not the last: the lowest FID, and for a conditional generator the
lowest FID among the checkpoints that reach the label-accuracy targets (``LABEL_TARGETS``). Notebook 5's ring models train their
recipe's budget. The generator (the moving-average copy where the recipe has one) is saved as
float16 when its figures match float32's (the record shows both), with a record:
``gan_utils/trained/<name>.json``.

``--check NAME`` adds to a record the figures of a CI-sized sample (1,000 images) on whatever
MNIST this process finds (full MNIST, or the offline sample with ``GAN_UTILS_MNIST=sample``):
the tests compare a fresh evaluation with them. Training always asks for full MNIST
(``GAN_UTILS_FULL_MNIST=1``), never the sample. Run one training at a time: two on two cores
make both timings meaningless.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from gan_utils import data, judge, metrics, models, pretrained, recipes, toy2d, training  # noqa: E402

N_EVAL = 5_000  # samples per evaluation, as the README's results table uses
N_CHECK = 1_000  # the CI-sized sample of the tests' check
FIGURE_KEYS = ("fid", "fid_real_reference", "precision", "precision_real_reference", "recall",
               "recall_real_reference", "coverage", "label_accuracy", "accuracy_real_reference")


def machine_reference(steps: int = 2_000) -> float:
    """The engine's steps per second on the digit-2 MLP of Lee's notes (batch 100): the speed of this machine now."""
    twos, _ = data.load_mnist(digits=2, value_range="sigmoid", verbose=False)
    keras.utils.set_random_seed(0)
    gan = training.GAN(models.mlp_generator(), models.mlp_discriminator())
    gan.compile()
    dataset = data.as_dataset(twos, batch_size=100).repeat()
    gan.fit(dataset, epochs=1, steps_per_epoch=200, verbose=0)  # traces the graph
    start = time.perf_counter()
    gan.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0)
    return steps / (time.perf_counter() - start)


def figures(the_judge, sampler, recipe: recipes.Recipe, n: int) -> dict:
    """The judge's figures for ``n`` samples (noise seed 1), each beside real data's at the same size."""
    labels = np.arange(n) % 10 if recipe.conditional else None
    images = sampler.sample(n, labels=labels, seed=1)
    result = metrics.evaluate(the_judge, images, value_range=sampler.value_range, labels=labels,
                              digits=recipe.digits)
    out = {key: round(float(result[key]), 5) for key in FIGURE_KEYS if key in result}
    shares = result["histogram"] / result["histogram"].sum()
    out.update(n=int(result["n"]), samples=n, rarest_digit_share=round(float(shares.min()), 5),
               digit_shares=[round(float(s), 5) for s in shares])
    if "per_digit_accuracy" in result:
        out["worst_digit_accuracy"] = round(float(np.nanmin(result["per_digit_accuracy"])), 5)
    return out


class BatchTimer(keras.callbacks.Callback):
    """Seconds spent in training batches, without evaluations and other callbacks' work."""

    def __init__(self):
        super().__init__()
        self.seconds, self._start = 0.0, None

    def on_train_batch_begin(self, batch, logs=None):
        self._start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.seconds += time.perf_counter() - self._start


# A conditional generator must first draw the digit asked for: a checkpoint below these label accuracies
# (overall, and for its worst digit) only counts as best when no checkpoint reaches them.
LABEL_TARGETS = {"label_accuracy": 0.995, "worst_digit_accuracy": 0.985}


def _rank(scores: dict) -> tuple:
    """Sort key of a checkpoint's figures, lower is better: label targets met first, then the FID."""
    misses = any(scores[key] < target for key, target in LABEL_TARGETS.items() if key in scores)
    return (misses, scores["fid"])


class KeepBest(BatchTimer):
    """Score the sampler every epoch; keep the best weights (``_rank``: label targets, then the lowest FID);
    stop after ``patience`` epochs without a better one."""

    def __init__(self, the_judge, recipe, patience: int):
        super().__init__()
        self.judge, self.recipe, self.patience = the_judge, recipe, patience
        self.curve, self.best, self.best_weights, self.since_best = [], None, None, 0

    def on_epoch_end(self, epoch, logs=None):
        scores = figures(self.judge, self.model, self.recipe, N_EVAL)
        point = {"steps": self.model.generator_steps, "seconds": round(self.seconds, 1),
                 **{k: scores[k] for k in ("fid", "precision", "recall", "coverage", "rarest_digit_share",
                                            "label_accuracy", "worst_digit_accuracy") if k in scores}}
        self.curve.append(point)
        better = self.best is None or _rank(scores) < _rank(self.best)
        if better:
            self.best, self.best_weights, self.since_best = {**scores, "steps": point["steps"]}, \
                self.model.sampler.get_weights(), 0
        else:
            self.since_best += 1
        print(f"  step {point['steps']:>7,} ({self.seconds:6.0f} s): " + ", ".join(
            f"{k} {v:.4g}" for k, v in point.items() if k not in ("steps", "seconds")) + (" *" if better else ""),
            flush=True)
        if self.since_best >= self.patience:
            print(f"  no better checkpoint for {self.patience} evaluations: stopping", flush=True)
            self.model.stop_training = True


def train_images(recipe, args, reference: float) -> dict:
    the_judge = metrics.load_judge()
    real = metrics.real_reference(the_judge, min(N_EVAL, _available(recipe)), digits=recipe.digits)
    print(f"real data at n={real['n']}: FID {real['fid']:.3f}, precision {real['precision']:.3f}, "
          f"recall {real['recall']:.3f}", flush=True)
    gan = recipe.build(seed=args.seed, steps=args.max_steps)
    keeper = KeepBest(the_judge, recipe, args.patience)
    start = time.perf_counter()
    gan.fit(recipe.dataset(seed=args.seed), epochs=args.max_steps // args.eval_every,
            steps_per_epoch=args.eval_every, callbacks=[keeper], verbose=0)
    wall = time.perf_counter() - start
    gan.sampler.set_weights(keeper.best_weights)
    best32 = figures(the_judge, gan, recipe, N_EVAL)
    info = _record(recipe, args, reference, steps=keeper.best["steps"], trained=keeper.curve[-1]["steps"],
                   train_seconds=keeper.seconds, wall_seconds=wall, curve=keeper.curve)
    info["judge"] = {"version": judge.JUDGE_VERSION, "test_accuracy": the_judge.test_accuracy,
                     "data": the_judge.source}
    info["figures_float32"] = best32
    _save_smallest(recipe.name, gan, info, lambda loaded: figures(the_judge, loaded, recipe, N_EVAL), best32)
    return pretrained.record(recipe.name)


def train_points(recipe, args, reference: float) -> dict:
    gan = recipe.build(seed=args.seed)
    timer = BatchTimer()
    start = time.perf_counter()
    gan.fit(recipe.dataset(seed=args.seed), epochs=10, steps_per_epoch=recipe.steps // 10, callbacks=[timer],
            verbose=0)
    wall = time.perf_counter() - start
    report = _ring_figures(gan)
    info = _record(recipe, args, reference, steps=recipe.steps, trained=recipe.steps, train_seconds=timer.seconds,
                   wall_seconds=wall, curve=[])
    info["figures_float32"] = report
    _save_smallest(recipe.name, gan, info, _ring_figures, report)
    return pretrained.record(recipe.name)


def _ring_figures(sampler) -> dict:
    """Modes covered and the high-quality share of 2,000 points (noise seed 1) on notebook 5's ring."""
    points = sampler.sample(2_000, seed=1)
    report = toy2d.mode_report(points, recipes.RING)
    return {"n": 2_000, "modes_covered": int(report.modes_covered), "high_quality": round(float(report.high_quality), 5)}


def _save_smallest(name, gan_or_generator, info, score, reference_figures) -> str:
    """Save as float16 if the figures of the float16 copy match float32's, else as float32; returns the dtype."""
    generator = getattr(gan_or_generator, "sampler", gan_or_generator)
    saved = pretrained.save(name, generator, {**info, "figures": reference_figures}, dtype="float16")
    half = score(pretrained.load(name))
    if _same(half, reference_figures):
        pretrained.save(name, generator, {**info, "figures": half}, dtype="float16")
        print(f"  saved {name} as float16 ({saved['weights']['bytes']:,} bytes): figures unchanged", flush=True)
        return "float16"
    pretrained.save(name, generator, {**info, "figures": reference_figures, "figures_float16": half}, dtype="float32")
    print(f"  float16 moved the figures ({half} against {reference_figures}): saved {name} as float32", flush=True)
    return "float32"


def _same(a: dict, b: dict) -> bool:
    """Figures equal up to the noise of evaluation: FID within 2%, shares and rates within 0.005."""
    for key, value in b.items():
        if not isinstance(value, (int, float)) or key == "n":
            continue
        tolerance = 0.02 * abs(value) if key.startswith("fid") else 0.005
        if abs(a[key] - value) > tolerance:
            return False
    return True


def _record(recipe, args, reference, *, steps, trained, train_seconds, wall_seconds, curve) -> dict:
    raw = data.load_raw_mnist()
    return {
        "name": recipe.name, "title": recipe.title, "notebook": recipe.notebook,
        "generator": {"builder": recipe.generator[0], "kwargs": recipe.generator[1]},
        "recipe": recipe.describe(), "seed": args.seed,
        "steps": steps, "steps_trained": trained, "max_steps": args.max_steps if recipe.kind == "images" else steps,
        "eval_every": args.eval_every if recipe.kind == "images" else None, "patience": args.patience,
        "train_seconds": round(train_seconds, 1), "wall_seconds": round(wall_seconds, 1),
        "machine_reference": {"steps_per_second": round(reference, 1),
                              "what": "the engine on the digit-2 MLP of Lee's notes, batch 100, just before training"},
        "date": datetime.date.today().isoformat(),
        "tensorflow": tf.__version__, "keras": keras.__version__, "data": raw.description,
        "curve": curve, "check": {},
    }


def _available(recipe) -> int:
    images, _ = data.load_mnist(digits=recipe.digits, value_range="tanh", verbose=False)
    return len(images)


def check(name: str) -> dict:
    """Add the CI-sized figures of ``name`` on the MNIST this process finds to its record."""
    recipe = recipes.recipe(name)
    if recipe.kind == "points":
        raise SystemExit(f"{name} learns points, not MNIST: its figures need no check per data set.")
    loaded = pretrained.load(name)
    key = "sample" if data.load_raw_mnist().source == "sample" else "full"
    result = figures(metrics.load_judge(), loaded, recipe, N_CHECK)
    info = pretrained.record(name)
    info["check"][key] = result
    path = pretrained.FOLDER / f"{name}.json"
    path.write_text(json.dumps(info, indent=1) + "\n")  # the weights, and so the checksum, are unchanged
    print(f"{name}: check on {key} MNIST at n={result['n']}: {result}")
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", choices=sorted(recipes.RECIPES), help="train this one (repeatable)")
    parser.add_argument("--check", action="append", metavar="NAME", help="add CI-sized check figures to NAME's record")
    parser.add_argument("--max-steps", type=int, default=60_000)
    parser.add_argument("--eval-every", type=int, default=2_000)
    parser.add_argument("--patience", type=int, default=6, help="evaluations without a better checkpoint before stopping")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    if args.check:
        for name in args.check:
            check(name)
        return 0
    os.environ[data.FULL_ENV] = "1"  # the shipped generators learn full MNIST, never the offline sample
    print(f"data: {data.load_raw_mnist().description}")
    for name in args.only or sorted(recipes.RECIPES):
        recipe = recipes.recipe(name)
        reference = machine_reference()
        print(f"{name}: {recipe.title}; machine reference {reference:.0f} steps/s", flush=True)
        trainer = train_points if recipe.kind == "points" else train_images
        info = trainer(recipe, args, reference)
        print(f"{name}: best at {info['steps']:,} steps, {info['train_seconds']:.0f} s of training: "
              f"{info['figures']}", flush=True)
        if recipe.kind == "images":
            check(name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
