"""How long the MNIST judge of ``gan_utils.judge`` takes to train, and how accurate it is.

Trains the judge from scratch with ``judge.load_judge``, exactly as a notebook does on a cold
cache, but into a temporary folder, so the project's cache in ``outputs/judge`` is neither used
nor touched. Prints the test accuracy, the wall time and the CPU time of this process (all
threads), and the load average, since other programs on the machine slow the wall time.

    python benchmarks/judge_time.py                                        # the data gan_utils finds
    GAN_UTILS_MNIST=/path/to/mnist.npz python benchmarks/judge_time.py     # full MNIST
    python benchmarks/judge_time.py --seed 0 --seed 1                      # one judge per seed
    GAN_UTILS_QUICK=1 python benchmarks/judge_time.py                      # quick mode's judge

The issue's budget: at least 99.2% test accuracy on full MNIST, in at most 60 s on a 2-core CPU.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from gan_utils import config, data, judge  # noqa: E402


def time_judge(seed: int) -> dict:
    """Train one judge from scratch in a temporary cache; its accuracy and costs."""
    with tempfile.TemporaryDirectory(prefix="judge-time-") as folder:
        previous = os.environ.get(config.OUTPUT_ENV)
        os.environ[config.OUTPUT_ENV] = folder
        judge._JUDGES.clear()  # nothing from memory either
        load_before = os.getloadavg()[0]
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            trained = judge.load_judge(seed=seed, verbose=False)
        finally:
            if previous is None:
                del os.environ[config.OUTPUT_ENV]
            else:
                os.environ[config.OUTPUT_ENV] = previous
        return {
            "seed": seed,
            "accuracy": trained.test_accuracy,
            "wall": time.perf_counter() - wall,
            "cpu": time.process_time() - cpu,
            "load": (load_before + os.getloadavg()[0]) / 2,
        }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, action="append", help="judge seed (repeatable; default 0)")
    args = parser.parse_args(argv)
    raw = data.load_raw_mnist()  # loaded before the clock starts, as a notebook has by then
    recipe = judge.judge_recipe(len(raw.x_train))
    print(f"data: {raw.description}")
    print(f"recipe: {judge.JUDGE_VERSION}; {recipe.steps:,} steps of {recipe.batch_size} "
          f"({recipe.steps * recipe.batch_size / len(raw.x_train):.1f} epochs); quick mode {config.quick_mode()}; "
          f"{os.cpu_count()} CPUs")
    for seed in args.seed or [0]:
        row = time_judge(seed)
        print(f"seed {row['seed']}: test accuracy {row['accuracy']:.2%} | wall {row['wall']:.1f} s | "
              f"CPU {row['cpu']:.1f} s | load average {row['load']:.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
