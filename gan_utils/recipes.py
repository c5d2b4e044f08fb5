"""The recipes of the series' trained generators: how each model is built, fed and trained.

One place for each recipe, so that a notebook's live run, its full-budget switch and
``tools/train_generators.py`` (which trains the generators that ship with the package) all
train the same model the same way. Each recipe is a ``Recipe``: ``build(seed)`` returns a
compiled ``training.GAN``, ``dataset(seed)`` an endless ``tf.data`` stream of its training
batches, and ``steps`` the full budget, chosen by measurement (``benchmarks/README.md``).
"""

from __future__ import annotations

from dataclasses import dataclass

from .backend import require_tensorflow

require_tensorflow()

import keras  # noqa: E402

from . import data, models, toy2d, training  # noqa: E402


@dataclass(frozen=True)
class Recipe:
    """A model of the series and how it is trained.

    Attributes:
        name: the generator's name in ``gan_utils.pretrained``.
        notebook: the notebook that teaches it.
        title: one line for tables and records.
        generator, discriminator: ``(builder name in gan_utils.models, its keyword arguments)``.
        options: the ``training.GAN`` options (loss, penalties, EMA, mismatched pairs...).
        optimizers: ``(D's learning rate, G's learning rate, beta_1, beta_2)`` for Adam.
        batch_size: images (or points) per step.
        steps: the full budget, in G steps.
        digits: the digits it learns (None: all ten).
        kind: "images" (MNIST) or "points" (notebook 5's ring of Gaussians).
        cosine_decay: decay both learning rates along a cosine to a tenth over the budget.
    """

    name: str
    notebook: int
    title: str
    generator: tuple[str, dict]
    discriminator: tuple[str, dict]
    options: dict
    optimizers: tuple[float, float, float, float]
    batch_size: int
    steps: int
    digits: list | None = None
    kind: str = "images"
    cosine_decay: bool = False

    @property
    def conditional(self) -> bool:
        return self.generator[0].startswith("conditional")

    def build(self, seed: int = 42, steps: int | None = None) -> training.GAN:
        """The GAN, seeded and compiled with this recipe's optimizers (a cosine decay runs over ``steps``)."""
        keras.utils.set_random_seed(seed)
        generator = getattr(models, self.generator[0])(**self.generator[1])
        discriminator = getattr(models, self.discriminator[0])(**self.discriminator[1])
        gan = training.GAN(generator, discriminator, seed=seed, **self.options)
        lr_d, lr_g, beta_1, beta_2 = self.optimizers
        budget = steps or self.steps

        def adam(rate, updates):
            if self.cosine_decay:
                rate = keras.optimizers.schedules.CosineDecay(rate, updates, alpha=0.1)
            return keras.optimizers.Adam(rate, beta_1=beta_1, beta_2=beta_2)

        gan.compile(d_optimizer=adam(lr_d, budget * gan.d_steps), g_optimizer=adam(lr_g, budget))
        return gan

    def dataset(self, seed: int = 42):
        """An endless, seeded ``tf.data`` stream of this recipe's training batches."""
        if self.kind == "points":
            return data.as_dataset(RING.sample(RING_POINTS, seed=seed), batch_size=self.batch_size, seed=seed).repeat()
        images, labels = data.load_mnist(digits=self.digits, value_range="tanh", verbose=False)
        return data.as_dataset(images, labels if self.conditional else None, batch_size=self.batch_size,
                               seed=seed).repeat()

    def train(self, steps: int | None = None, seed: int = 42, callbacks=None, epochs: int = 10, verbose=0):
        """Build and train this recipe's GAN for ``steps`` G steps (default: the full budget).

        ``steps`` is split into ``epochs`` equal epochs (so a callback such as a ``SampleGrid``
        runs ``epochs`` times). Returns ``(gan, history)``.
        """
        steps = steps or self.steps
        if steps % epochs:
            raise ValueError(f"steps={steps} must be a multiple of epochs={epochs}.")
        gan = self.build(seed=seed, steps=steps)
        history = gan.fit(self.dataset(seed=seed), epochs=epochs, steps_per_epoch=steps // epochs,
                          callbacks=callbacks, verbose=verbose)
        return gan, history

    def describe(self) -> dict:
        """The recipe as plain data, for a run record."""
        lr_d, lr_g, beta_1, beta_2 = self.optimizers
        return {"generator": {"builder": self.generator[0], "kwargs": self.generator[1]},
                "discriminator": {"builder": self.discriminator[0], "kwargs": self.discriminator[1]},
                "options": self.options, "batch_size": self.batch_size, "digits": self.digits,
                "adam": {"lr_d": lr_d, "lr_g": lr_g, "beta_1": beta_1, "beta_2": beta_2,
                         "cosine_decay_to_a_tenth": self.cosine_decay}}


# Notebook 5's playground: eight Gaussians on a ring, 50,000 training points.
RING = toy2d.ring(modes=8, radius=2.0, std=0.02)
RING_POINTS = 50_000

_ADAM_1E3 = (1e-3, 1e-3, 0.5, 0.999)
_ADAM_2E4 = (2e-4, 2e-4, 0.5, 0.999)
_EMA = {"ema_decay": 0.999}


def _ring(name: str, title: str, lr_d: float = 1e-3, beta_2: float = 0.999, spectral_norm: bool = False,
          **options) -> Recipe:
    return Recipe(name=name, notebook=5, title=title, generator=("mlp_generator_2d", {}),
                  discriminator=("mlp_discriminator_2d", {"spectral_norm": spectral_norm}), options=options,
                  optimizers=(lr_d, 1e-3, 0.5, beta_2), batch_size=256, steps=8_000, kind="points",
                  cosine_decay=True)


RECIPES = {recipe.name: recipe for recipe in [
    Recipe(name="mlp_twos", notebook=2, title="BatchNorm MLP on the 2s",
           generator=("bn_mlp_generator", {}), discriminator=("bn_mlp_discriminator", {}), options=_EMA,
           optimizers=_ADAM_2E4, batch_size=64, steps=18_000, digits=[2]),
    Recipe(name="dcgan", notebook=3, title="Classroom DCGAN",
           generator=("dcgan_generator", {"size": "classroom"}),
           discriminator=("dcgan_discriminator", {"size": "classroom"}), options=_EMA,
           optimizers=_ADAM_1E3, batch_size=32, steps=20_000),
    Recipe(name="cgan", notebook=4, title="Conditional DCGAN, mismatched pairs at w = 1/4",
           generator=("conditional_dcgan_generator", {"size": "classroom"}),
           discriminator=("conditional_dcgan_discriminator", {"size": "classroom"}),
           options={**_EMA, "mismatched_pairs": 0.25}, optimizers=_ADAM_1E3, batch_size=32, steps=24_000),
    Recipe(name="dcgan_wide", notebook=3, title="DCGAN at twice the classroom width",
           generator=("dcgan_generator", {"size": 32}), discriminator=("dcgan_discriminator", {"size": 32}),
           options=_EMA, optimizers=_ADAM_2E4, batch_size=64, steps=40_000),
    Recipe(name="cgan_wide", notebook=4, title="Conditional DCGAN at twice the classroom width, w = 1/4",
           generator=("conditional_dcgan_generator", {"size": 32}),
           discriminator=("conditional_dcgan_discriminator", {"size": 32}),
           options={**_EMA, "mismatched_pairs": 0.25}, optimizers=_ADAM_2E4, batch_size=64, steps=40_000),
    _ring("ring_plain", "Plain GAN on the ring"),
    _ring("ring_hinge", "Hinge loss on the ring", loss="hinge"),
    _ring("ring_r1", "R1 penalty (gamma 1) on the ring", r1_penalty=1.0),
    _ring("ring_wgan_gp", "WGAN-GP on the ring", beta_2=0.9, loss="wasserstein", gradient_penalty=0.1, d_steps=5),
    _ring("ring_sn_hinge", "Spectral norm and hinge loss on the ring", spectral_norm=True, loss="hinge"),
    _ring("ring_ttur", "Two time-scale learning rates on the ring", lr_d=4e-3),
]}


def recipe(name: str) -> Recipe:
    """The recipe called ``name``; a ValueError lists the names when there is none."""
    if name not in RECIPES:
        raise ValueError(f"no recipe named {name!r}; the series has {sorted(RECIPES)}.")
    return RECIPES[name]
