"""Notebook 4's short comparison: the conditional DCGAN without mismatched pairs, and with them at
a quarter and at half of the negatives' weight, at equal settings (``make_cgan`` and
``train_short`` there: the same initial weights, batches, seed and optimizers).

    python benchmarks/cgan_share.py            # 2,400 steps each, as the notebook's full mode
    python benchmarks/cgan_share.py --steps 24000

Prints, per model: training seconds, label accuracy and worst digit, precision, recall and FID
of 5,000 samples (500 per digit asked for), beside the real references, on whichever data
``load_mnist`` finds (set GAN_UTILS_MNIST for full MNIST).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gan_utils.backend import import_tensorflow_quietly  # noqa: E402

import_tensorflow_quietly()

import keras  # noqa: E402
import numpy as np  # noqa: E402

from gan_utils import config, data, metrics, models, training  # noqa: E402

SHARES = {"without": False, "w = 1/4": 0.25, "w = 1/2": True}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=2_400)
    args = parser.parse_args(argv)
    seed = config.set_seed(42)
    images, labels = data.load_mnist(value_range="tanh")
    judge = metrics.load_judge()
    asked = np.repeat(np.arange(10), 500)
    for name, share in SHARES.items():
        keras.utils.set_random_seed(seed)
        gan = training.GAN(models.conditional_dcgan_generator(size="classroom"),
                           models.conditional_dcgan_discriminator(size="classroom"),
                           ema_decay=0.999, mismatched_pairs=share, seed=seed)
        gan.compile(d_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5),
                    g_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5))
        start = time.perf_counter()
        gan.fit(data.as_dataset(images, labels, batch_size=32, seed=seed).repeat(), epochs=1,
                steps_per_epoch=args.steps, verbose=0)
        seconds = time.perf_counter() - start
        r = metrics.evaluate(judge, gan.sample(labels=asked, seed=1), labels=asked, value_range="tanh")
        print(f"{name:<8} {args.steps:,} steps {seconds:5.0f} s | label accuracy {r['label_accuracy']:.1%} "
              f"(worst digit {np.nanmin(r['per_digit_accuracy']):.1%}) | precision {r['precision']:.3f} "
              f"(real {r['precision_real_reference']:.3f}) | recall {r['recall']:.3f} "
              f"(real {r['recall_real_reference']:.3f}) | FID {r['fid']:.2f} (real {r['fid_real_reference']:.2f})",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
