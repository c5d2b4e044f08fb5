"""The training engine: one compiled Keras 3 GAN for unconditional and conditional models.

The seeds train with the Keras 2 "combined model" trick (freeze the discriminator inside a
stacked model, then ``train_on_batch``). On Keras 3 that discriminator never learns. Here a
``keras.Model`` subclass overrides ``train_step`` instead, so training runs through ``fit()``
(progress bar, History, callbacks) as one compiled TensorFlow graph per step.

One step, as in Goodfellow et al.'s Algorithm 1 (``update="alternating"``, the default):

1. fix G, take ``d_steps`` gradient steps on D to separate real images from G(z);
2. fix D, take one gradient step on G to make D(G(z)) look real.

``update="simultaneous"`` is the TensorFlow DCGAN tutorial's step instead: one forward pass,
both gradients taken from the same verdicts, both networks updated at once. It skips the second
look at the fakes by the updated D, so it is cheaper per step.
"""

from __future__ import annotations

import math

from .backend import require_tensorflow

require_tensorflow()  # before Keras and TensorFlow, so that a missing TF or a JAX backend gets a clear message

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import ops  # noqa: E402

from . import augment, data, resume  # noqa: E402
from .callbacks import StopOnNaN  # noqa: E402
from .models import output_range, run_in_batches  # noqa: E402

G_LOSSES = ("non_saturating", "minimax")
LOSSES = ("bce", "hinge", "wasserstein")
UPDATES = ("alternating", "simultaneous")
# Under tf.distribute, replica r draws its random numbers as a one-device GAN seeded with
# seed + r * REPLICA_SEED_STRIDE would (a large prime, so that small hand-picked seeds never meet).
REPLICA_SEED_STRIDE = 1_000_003


# --------------------------------------------------------------------------------------------
# Losses, written on logits: log D(x) = -softplus(-logit), log(1 - D(x)) = -softplus(logit)
# --------------------------------------------------------------------------------------------

def discriminator_loss(real_logits, fake_logits, real_label: float = 1.0):
    """Binary cross-entropy of D over a half-real, half-fake batch (the mean of the two halves).

    ``-[t log D(x) + (1 - t) log(1 - D(x))]`` on real images with target ``t = real_label``
    (1.0, or 0.9 for one-sided label smoothing), plus ``-log(1 - D(G(z)))`` on fakes, averaged.
    At the plain game's theoretical equilibrium D = 1/2 everywhere and this loss is log 2 = 0.69
    (with mismatched pairs, D settles elsewhere: ``GAN._discriminator_loss``).
    """
    real_term = real_label * ops.softplus(-real_logits) + (1.0 - real_label) * ops.softplus(real_logits)
    fake_term = ops.softplus(fake_logits)
    return 0.5 * (ops.mean(real_term) + ops.mean(fake_term))


def generator_loss(fake_logits, kind: str = "non_saturating"):
    """G's loss on D's logits for G(z).

    * "non_saturating": minimise ``-log D(G(z))``. Strong gradients while D rejects fakes;
      log 2 = 0.69 at equilibrium. The default, and what everybody uses.
    * "minimax": minimise ``log(1 - D(G(z)))``, the original game's term. Its gradient
      vanishes when D(G(z)) is near 0, which is exactly the start of training. Its value is
      negative: 0 when D(G(z)) = 0, -log 2 = -0.69 at equilibrium.
    """
    if kind == "non_saturating":
        return ops.mean(ops.softplus(-fake_logits))
    if kind == "minimax":
        return -ops.mean(ops.softplus(fake_logits))
    raise ValueError(f"g_loss must be one of {G_LOSSES}, got {kind!r}.")


def hinge_discriminator_loss(real_logits, fake_logits):
    """The hinge loss of D (Lim & Ye 2017; used by SAGAN and BigGAN): ``E[max(0, 1 - D(x))] +
    E[max(0, 1 + D(G(z)))]`` on D's raw scores (no sigmoid).

    D is pushed to score real images at least +1 and fakes at most -1, and then stops: an image
    already beyond its margin gives no gradient, so D does not chase ever larger scores. 0 when
    every score is beyond its margin, 2 when all scores are 0.
    """
    return ops.mean(ops.relu(1.0 - real_logits)) + ops.mean(ops.relu(1.0 + fake_logits))


def wasserstein_critic_loss(real_logits, fake_logits):
    """The WGAN critic's loss (Arjovsky et al. 2017): ``E[D(G(z))] - E[D(x)]`` on raw scores.

    Minimising it maximises the gap between the mean score of real and fake images; over
    1-Lipschitz critics that maximum gap is the Wasserstein-1 distance between the two
    distributions. Unbounded below: it needs the gradient penalty (or another Lipschitz
    constraint) to mean anything.
    """
    return ops.mean(fake_logits) - ops.mean(real_logits)


def score_generator_loss(fake_logits):
    """G's loss for the hinge and Wasserstein games: ``-E[D(G(z))]``, raise the critic's score of fakes."""
    return -ops.mean(fake_logits)


def gradient_penalty(gradients):
    """WGAN-GP's penalty (Gulrajani et al. 2017): ``E[(||grad||_2 - 1)^2]`` over the batch.

    ``gradients``: D's gradient with respect to its input images, one per image (any shape
    ``(batch, ...)``). 0 when every gradient has norm 1, the slope of a 1-Lipschitz critic
    along the lines between real and fake images.
    """
    norms = ops.sqrt(_squared_norms(gradients) + 1e-12)
    return ops.mean(ops.square(norms - 1.0))


def r1_penalty(gradients):
    """The R1 penalty (Mescheder et al. 2018): ``E[||grad||_2^2]`` over the batch of real images.

    ``gradients``: D's gradient at real images ``(batch, ...)``. It flattens D around the data,
    so that D cannot build a cliff G would be pushed over; the engine multiplies it by gamma / 2.
    """
    return ops.mean(_squared_norms(gradients))


def _squared_norms(gradients):
    """``||g_i||^2`` for every image's gradient ``g_i`` in ``(batch, ...)``: shape ``(batch,)``."""
    return ops.sum(ops.square(ops.reshape(gradients, (ops.shape(gradients)[0], -1))), axis=1)


# --------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------

class Sampling:
    """``noise``, ``sample`` and ``check_labels`` for anything that holds a generator.

    Shared by the ``GAN`` and by the trained generators that ship with the series
    (``gan_utils.pretrained``), so that both sample the same way. A subclass sets
    ``latent_dim``, ``conditional`` and ``num_classes`` and says which network samples.
    """

    latent_dim: int
    conditional: bool
    num_classes: int | None

    def _sampling_model(self, use_ema: bool) -> keras.Model:
        raise NotImplementedError

    def noise(self, n: int, seed: int = 0) -> np.ndarray:
        """Fixed, reproducible noise ``(n, latent_dim)`` float32 from N(0, 1), drawn with NumPy."""
        return np.random.default_rng(seed).standard_normal((n, self.latent_dim)).astype(np.float32)

    def sample(self, n: int | None = None, labels=None, z=None, seed: int = 0, use_ema: bool = True,
               batch_size: int = 500) -> np.ndarray:
        """Generate images.

        Args:
            n: how many; may be omitted when ``z`` or an array of ``labels`` is given.
            labels: conditional GANs only: one int in 0..9 for all images, or an int array (n,).
            z: optional noise ``(n, latent_dim)``; by default ``noise(n, seed)``.
            use_ema: sample from the moving-average generator when there is one.

        Returns:
            float32 samples ``(n, *generator output shape)``, e.g. images ``(n, 28, 28, 1)``, in
            the generator's output range.
        """
        if z is None and n is None:
            n = len(np.atleast_1d(labels)) if labels is not None else None
            if n is None:
                raise ValueError("sample() needs n, z, or (for a conditional GAN) an array of labels.")
        z = self.noise(n, seed) if z is None else np.asarray(z, dtype=np.float32)
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z must have shape (n, {self.latent_dim}), got {z.shape}.")
        labels = self.check_labels(labels, len(z))
        model = self._sampling_model(use_ema)
        inputs = [z, labels] if self.conditional else z
        return run_in_batches(model, inputs, batch_size)

    def check_labels(self, labels, n: int):
        """Validate labels for ``n`` images: None for an unconditional GAN, else int32 ``(n,)``."""
        if not self.conditional:
            if labels is not None:
                raise ValueError("This GAN is unconditional: its generator takes no labels. "
                                 "Call sample(n) without labels, or build a conditional generator.")
            return None
        if labels is None:
            raise ValueError(f"This GAN is conditional: pass labels, e.g. sample(n, labels=3) "
                             f"or an int array of shape ({n},) in 0..{self.num_classes - 1}.")
        return data.check_labels(labels, n, self.num_classes, broadcast=True).astype(np.int32)


class GAN(Sampling, keras.Model):
    """A generator and a discriminator trained against each other by ``fit()``.

    ``train_step`` is one step of Goodfellow et al.'s Algorithm 1: D's gradient step on real
    images and fresh fakes, then G's step against the updated D. ``fit()`` runs it as one
    compiled graph per step, with Keras's progress bar, History and callbacks.

    Args:
        generator: ``z (batch, latent_dim) -> images``, or ``[z, labels] -> images`` for a
            conditional GAN (the engine notices from the number of inputs).
        discriminator: ``images -> logits (batch, 1)``, or ``[images, labels] -> logits``.

        The game:
        loss: "bce" (default): D's binary cross-entropy, G's loss set by ``g_loss``; "hinge"
            (Lim & Ye 2017); "wasserstein" (Arjovsky et al. 2017, a critic whose raw score is
            not a probability: use it with ``gradient_penalty`` 10 and ``d_steps`` 5). See the
            loss functions above for the formulas.
        g_loss: "non_saturating" (default, ``-log D(G(z))``) or "minimax" (``log(1 - D(G(z)))``,
            the original game's term); only for ``loss="bce"``.
        real_label: D's target for real images; 0.9 is one-sided label smoothing.
        gradient_penalty: lambda of WGAN-GP's penalty on points between real and fake images
            (0: off).
        r1_penalty: gamma of the R1 penalty on real images (0: off). Both penalties
            differentiate D itself, without DiffAugment's shifts.

        The schedule:
        d_steps: D's gradient steps per G step. The extra D steps each see fresh fakes but the
            same real batch (one batch is read per ``train_step``).
        update: "alternating" (default, Algorithm 1), or "simultaneous": both gradients from
            one forward pass, as in TensorFlow's DCGAN tutorial (less work per step).

        Tricks:
        ema_decay: keep an exponential moving average of G's weights (e.g. 0.999) in
            ``ema_generator`` and sample from it. The decay warms up as
            ``min(ema_decay, (1 + t) / (10 + t))`` after t generator steps.
        augment_shift: DiffAugment (Zhao et al. 2020): every image D sees, real or fake, is
            shifted by up to this many pixels (0: off), so that D cannot memorise a small
            training set; G is still asked for unshifted images.
        mismatched_pairs: conditional GANs only: D also sees real images under a wrong label
            as negatives (Reed et al. 2016's matching-aware D). A share w in (0, 1) gives them
            w of the negatives' weight and the fakes 1 - w; True means w = 1/2.

        Bookkeeping:
        track_grad_norm: also log ``g_grad_norm``, the global norm of G's gradient.
        seed: seeds the noise drawn inside the step: the same seed gives the same run.

    Logged metrics: ``d_loss``, ``g_loss``, and D's mean verdicts on the batch: ``d_real``
    (mean D(x)) and ``d_fake`` (mean D(G(z)), before D's update) for ``loss="bce"``;
    ``score_real`` and ``score_fake``, the mean raw scores, for "hinge" and "wasserstein",
    whose scores are not probabilities.

    ``sample()``, ``save_generator()`` and calling the GAN use ``sampler``: the moving average
    when ``ema_decay`` is set. ``value_range`` is G's output range ("tanh" or "sigmoid"),
    read from its last activation. The README describes training on several devices
    (``tf.distribute``) and mixed precision.
    """

    def __init__(self, generator: keras.Model, discriminator: keras.Model, *,
                 loss: str = "bce", g_loss: str = "non_saturating", real_label: float = 1.0,
                 gradient_penalty: float = 0.0, r1_penalty: float = 0.0,
                 d_steps: int = 1, update: str = "alternating",
                 ema_decay: float | None = None, augment_shift: int = 0, mismatched_pairs: bool | float = False,
                 track_grad_norm: bool = False, seed: int = 0, **kwargs):
        super().__init__(name=kwargs.pop("name", "gan"), **kwargs)
        _check_pair(generator, discriminator)
        _check_options(loss, g_loss, real_label, gradient_penalty, r1_penalty, d_steps, update, ema_decay)
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = int(generator.inputs[0].shape[-1])
        self.image_shape = tuple(discriminator.inputs[0].shape[1:])
        self.value_range = output_range(generator)
        self.conditional = len(generator.inputs) == 2
        self.num_classes = _num_classes(generator) if self.conditional else None
        self.d_steps = d_steps
        self.update = update
        self.g_loss_kind = g_loss
        self.real_label = float(real_label)
        self.ema_decay = ema_decay
        self.ema_generator = None
        if ema_decay is not None:
            self.ema_generator = keras.models.clone_model(generator)
            self.ema_generator.set_weights(generator.get_weights())
        if mismatched_pairs and not self.conditional:
            raise ValueError("mismatched_pairs needs a conditional GAN: an unconditional D sees no labels.")
        self.mismatched_pairs, self.mismatched_share = _mismatched_share(mismatched_pairs)
        self.loss_kind = loss
        self.gradient_penalty = float(gradient_penalty)
        self.r1_penalty = float(r1_penalty)
        self.augment_shift = augment.check_shift(augment_shift)
        self.track_grad_norm = track_grad_norm
        self.seed_generator = keras.random.SeedGenerator(seed)
        self._verdicts = ("d_real", "d_fake") if loss == "bce" else ("score_real", "score_fake")
        names = ["d_loss", "g_loss", *self._verdicts] + (["g_grad_norm"] if track_grad_norm else [])
        self._trackers = {n: keras.metrics.Mean(name=n) for n in names}
        self.built = True

    # -- set-up ------------------------------------------------------------------------------

    def compile(self, d_optimizer=None, g_optimizer=None, jit_compile: bool = False,
                steps_per_execution: int | None = None, **kwargs):
        """Attach one optimizer per network (default: Adam, lr 2e-4, beta_1 0.5, from DCGAN).

        ``steps_per_execution`` (default 10) runs that many steps per call into the compiled
        graph, which on a CPU cuts the per-step Python overhead that dominates small models.
        Under a ``MirroredStrategy`` with several replicas the default is 1, the only value
        Keras's multi-step loop supports there (see ``_steps_per_execution``).
        ``jit_compile=True`` asks for XLA, which Keras's "auto" never picks on a CPU; measure
        it (``benchmarks/bench_training.py``): it helps the MLPs on a CPU, not the conv nets.
        Under the "mixed_float16" policy both optimizers are wrapped in a
        ``LossScaleOptimizer`` (see the class docstring).
        """
        steps_per_execution = self._steps_per_execution(steps_per_execution)
        if self.gradient_penalty or self.r1_penalty:
            # TensorFlow's graph "remapper" cannot fuse the gradient-of-a-gradient ops of a penalty
            # through LeakyReLU and prints a long (harmless) error for every compiled graph; it then
            # skips the fusion anyway. Turned off for the rest of the process: the fusions only save time.
            tf.config.optimizer.set_experimental_options({"remapping": False})
        self.d_optimizer = self._loss_scaled(d_optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5))
        self.g_optimizer = self._loss_scaled(g_optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5))
        # Built now, so that a checkpoint saved mid-training reloads into matching slots.
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self.g_optimizer.build(self.generator.trainable_variables)
        super().compile(optimizer=None, jit_compile=jit_compile, steps_per_execution=steps_per_execution, **kwargs)
        self._requested_steps_per_execution = steps_per_execution

    def _steps_per_execution(self, requested: int | None) -> int:
        """The steps per execution to use: ``requested``, or 10, or 1 under a MirroredStrategy.

        Keras runs several steps per execution in a ``tf.while_loop`` whose ``tf.cond`` calls
        ``strategy.run``. Under a MirroredStrategy with several replicas that graph fails at
        run time ("You must feed a value for placeholder tensor", even for a plain Sequential
        model; Keras issue #19246), so only 1 works there. TPUStrategy is left alone (not tested here): it
        needs many steps per execution to be fast.
        """
        strategy = self.distribute_strategy
        multi_replica = strategy.num_replicas_in_sync > 1 and not isinstance(strategy, tf.distribute.TPUStrategy)
        if requested is None:
            return 1 if multi_replica else 10
        if multi_replica and requested != 1:
            raise ValueError(
                f"steps_per_execution={requested} does not run under {type(strategy).__name__} with "
                f"{strategy.num_replicas_in_sync} replicas: Keras's multi-step loop fails there with "
                "\"You must feed a value for placeholder tensor\". Leave steps_per_execution out (it is then "
                "1 under this strategy) or pass 1."
            )
        return requested

    def _loss_scaled(self, optimizer):
        """``optimizer``, wrapped in a ``LossScaleOptimizer`` if G or D computes in float16.

        Keras wraps the optimizer given to its own ``compile`` under "mixed_float16"; this
        engine passes ``optimizer=None`` there, so it wraps its two optimizers itself. Both are
        wrapped because G's gradient flows through D as well.
        """
        if isinstance(optimizer, keras.optimizers.LossScaleOptimizer) or not self._computes_in_float16():
            return optimizer
        return keras.optimizers.LossScaleOptimizer(optimizer)

    def _computes_in_float16(self) -> bool:
        """Whether G, D or one of their layers runs in float16 (the "mixed_float16" policy)."""
        networks = (self.generator, self.discriminator)
        return any(layer.compute_dtype == "float16" for net in networks for layer in [net, *net.layers])

    @property
    def metrics(self):
        return list(self._trackers.values())

    @property
    def generator_steps(self) -> int:
        """G's optimizer updates so far (one per training step, unless mixed precision skipped one).

        Read through NumPy: under tf.distribute the counter is a MirroredVariable, which int() refuses.
        """
        return int(keras.ops.convert_to_numpy(applied_steps(self.g_optimizer)))

    @property
    def sampler(self) -> keras.Model:
        """The generator used for sampling: the moving average when ``ema_decay`` is set."""
        return self.ema_generator if self.ema_generator is not None else self.generator

    def _sampling_model(self, use_ema: bool) -> keras.Model:
        return self.sampler if use_ema else self.generator

    def call(self, inputs, training=False):
        """``gan(z)``, ``gan([z, labels])`` and ``gan.predict``: images from ``sampler``.

        The same network as ``sample()`` and ``save_generator``, so that every way of asking
        the GAN for images gives the same images: the moving average when ``ema_decay`` is
        set. Training does not come through here: ``train_step`` calls ``self.generator``.
        """
        return self.sampler(inputs, training=training)

    # -- the training step -------------------------------------------------------------------

    def train_step(self, data):
        images, labels, _ = keras.utils.unpack_x_y_sample_weight(data)
        batch = ops.shape(images)[0]
        share = self._replica_share(batch)
        for _ in range(self.d_steps - 1):  # extra D steps, each on fresh fakes
            self._discriminator_step(images, labels, self._fakes(batch, labels), share)
        step = self._alternating_step if self.update == "alternating" else self._simultaneous_step
        d_loss, g_loss, real_logits, fake_logits, g_grad_norm = step(images, labels, batch, share)
        self._update_ema()

        verdict = ops.sigmoid if self.loss_kind == "bce" else (lambda scores: scores)  # raw scores are no probabilities
        values = {"d_loss": d_loss, "g_loss": g_loss,
                  self._verdicts[0]: ops.mean(verdict(real_logits)), self._verdicts[1]: ops.mean(verdict(fake_logits))}
        if self.track_grad_norm:
            values["g_grad_norm"] = g_grad_norm
        for key, value in values.items():
            self._trackers[key].update_state(value)
        return {key: tracker.result() for key, tracker in self._trackers.items()}

    def _alternating_step(self, images, labels, batch, share):
        """Algorithm 1's step: D's gradient step on fixed fakes, then G's step against the new D."""
        with tf.GradientTape() as g_tape:
            fake = self._fakes(batch, labels)
            # Step 1: fix G, take a gradient step on D (G's weights are not touched).
            with g_tape.stop_recording():
                d_loss, real_logits, fake_logits = self._discriminator_step(images, labels, fake, share)
            # Step 2: fix D (now updated), take a gradient step on G through D's verdict on the
            # same fakes, as PyTorch's DCGAN tutorial does: one generator pass serves both steps.
            g_logits = self._d_logits(fake, labels)
            g_loss = self._generator_loss(g_logits)
            scaled_g_loss = self._scaled_loss(g_loss, share, self.g_optimizer)
        g_vars = self.generator.trainable_variables
        g_grads = g_tape.gradient(scaled_g_loss, g_vars)
        g_grad_norm = self._g_grad_norm(g_grads)
        self.g_optimizer.apply_gradients(zip(g_grads, g_vars))
        return d_loss, g_loss, real_logits, fake_logits, g_grad_norm

    def _simultaneous_step(self, images, labels, batch, share):
        """TensorFlow's tutorial step: one forward pass, both networks updated from it."""
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            fake = self._fakes(batch, labels)
            real_logits, fake_logits = self._discriminator_logits(images, fake, labels)
            d_loss = self._discriminator_loss(images, labels, real_logits, fake_logits)
            d_loss = self._with_penalties(d_loss, images, labels, fake)
            g_loss = self._generator_loss(fake_logits)
            scaled_d_loss = self._scaled_loss(d_loss, share, self.d_optimizer)
            scaled_g_loss = self._scaled_loss(g_loss, share, self.g_optimizer)
        g_vars, d_vars = self.generator.trainable_variables, self.discriminator.trainable_variables
        g_grads = g_tape.gradient(scaled_g_loss, g_vars)
        d_grads = d_tape.gradient(scaled_d_loss, d_vars)
        g_grad_norm = self._g_grad_norm(g_grads)
        self.g_optimizer.apply_gradients(zip(g_grads, g_vars))
        self.d_optimizer.apply_gradients(zip(d_grads, d_vars))
        return d_loss, g_loss, real_logits, fake_logits, g_grad_norm

    def _discriminator_step(self, images, labels, fake, share):
        """One gradient step on D: real images towards 1, ``fake`` (held fixed) towards 0."""
        fake = ops.stop_gradient(fake)
        with tf.GradientTape() as tape:
            real_logits, fake_logits = self._discriminator_logits(images, fake, labels)
            d_loss = self._discriminator_loss(images, labels, real_logits, fake_logits)
            d_loss = self._with_penalties(d_loss, images, labels, fake)
            scaled_d_loss = self._scaled_loss(d_loss, share, self.d_optimizer)
        d_vars = self.discriminator.trainable_variables
        self.d_optimizer.apply_gradients(zip(tape.gradient(scaled_d_loss, d_vars), d_vars))
        return d_loss, real_logits, fake_logits

    def _discriminator_logits(self, images, fake, labels):
        """D's logits ``(batch, 1)`` for the real images and for the fakes, in two calls.

        Two calls rather than one on the concatenated batch, so that a BatchNorm in D would not
        mix real and fake statistics.
        """
        return self._d_logits(images, labels), self._d_logits(fake, labels)

    def _discriminator_loss(self, images, labels, real_logits, fake_logits):
        """D's loss; with ``mismatched_pairs``, real images under a wrong label count as fakes too."""
        if not self.mismatched_pairs:
            return self._game_d_loss(real_logits, fake_logits)
        wrong_logits = self._d_logits(images, self._wrong_labels(labels))
        if self.mismatched_share == 0.5:
            negatives = ops.concatenate([fake_logits, wrong_logits], axis=0)  # half fakes, half mismatches
            return self._game_d_loss(real_logits, negatives)
        w = self.mismatched_share  # the mismatches' share of the negatives' weight
        return (1.0 - w) * self._game_d_loss(real_logits, fake_logits) + w * self._game_d_loss(real_logits, wrong_logits)

    def _game_d_loss(self, real_logits, fake_logits):
        """D's loss in the chosen game (``loss``), before any penalty."""
        if self.loss_kind == "hinge":
            return hinge_discriminator_loss(real_logits, fake_logits)
        if self.loss_kind == "wasserstein":
            return wasserstein_critic_loss(real_logits, fake_logits)
        return discriminator_loss(real_logits, fake_logits, self.real_label)

    def _generator_loss(self, fake_logits):
        """G's loss in the chosen game: ``g_loss``'s for "bce", ``-E[D(G(z))]`` for the others."""
        if self.loss_kind == "bce":
            return generator_loss(fake_logits, self.g_loss_kind)
        return score_generator_loss(fake_logits)

    def _with_penalties(self, d_loss, images, labels, fake):
        """D's loss plus WGAN-GP's and R1's penalties, when they are on (inside D's tape)."""
        if self.gradient_penalty:
            epsilon = keras.random.uniform((ops.shape(images)[0],) + (1,) * (len(self.image_shape)), seed=self._seeds())
            between = epsilon * ops.cast(images, "float32") + (1.0 - epsilon) * ops.cast(fake, "float32")
            d_loss = d_loss + self.gradient_penalty * gradient_penalty(self._input_gradients(between, labels))
        if self.r1_penalty:
            d_loss = d_loss + 0.5 * self.r1_penalty * r1_penalty(self._input_gradients(images, labels))
        return d_loss

    def _input_gradients(self, images, labels):
        """D's gradient with respect to its input images ``(batch, *image_shape)``, float32.

        Computed under the caller's tape, so that a penalty on it can be differentiated again.
        The gradient of the summed logits is each image's own gradient only when D treats the
        images of a batch independently: true of the series' discriminators, not of a D with
        BatchNormalization, whose batch statistics mix them.
        """
        images = ops.cast(images, "float32")
        with tf.GradientTape() as tape:
            tape.watch(images)
            logits = ops.cast(self.discriminator(self._d_inputs(images, labels), training=True), "float32")
            total = ops.sum(logits)
        return tape.gradient(total, images)

    def _wrong_labels(self, labels):
        """A wrong label for every image: the true one plus 1..num_classes-1, modulo num_classes."""
        shift = keras.random.randint(ops.shape(labels), 1, self.num_classes, seed=self._seeds(), dtype=labels.dtype)
        return (labels + shift) % self.num_classes

    def _d_logits(self, images, labels):
        """D's float32 logits ``(batch, 1)`` for training, on augmented images when ``augment_shift`` is set.

        float32 even when D computes in float16 (mixed precision), so that the losses are.
        """
        images = augment.random_shift(images, self.augment_shift, self._seeds())
        return ops.cast(self.discriminator(self._d_inputs(images, labels), training=True), "float32")

    def _fakes(self, batch, labels):
        """G's images for a batch of fresh noise (and the batch's labels, if conditional)."""
        return self.generator(self._g_inputs(self._noise(batch), labels), training=True)

    def _noise(self, batch):
        """Training noise ``(batch, latent_dim)`` float32 from N(0, 1), this replica's own."""
        return keras.random.normal((batch, self.latent_dim), seed=self._seeds())

    def _g_inputs(self, z, labels):
        return [z, labels] if self.conditional else z

    def _d_inputs(self, images, labels):
        return [images, labels] if self.conditional else images

    # -- several devices and mixed precision ---------------------------------------------------
    # Under tf.distribute each replica weights its mean loss by its share of the global batch (the
    # optimizers sum the replicas' gradients), so one step on N replicas moves the weights as one
    # step on one device with the global batch. Replica r draws the noise, shifts and wrong labels a
    # one-device GAN seeded with seed + r * REPLICA_SEED_STRIDE would. Under "mixed_float16" both
    # optimizers are wrapped in a LossScaleOptimizer. The README says what was tested.


    def _seeds(self) -> keras.random.SeedGenerator:
        """Where this replica's random numbers come from.

        On one device, the GAN's ``seed_generator`` itself. Under a strategy with N > 1
        replicas, a view of it that moves the seed by the replica's id: every replica keeps its
        own copy of the generator's state and the copies advance in step, so drawing from the
        generator directly would give every replica the same noise.
        """
        context = _multi_replica_context()
        if context is None:
            return self.seed_generator
        return _ReplicaSeeds(self.seed_generator, context.replica_id_in_sync_group)

    @staticmethod
    def _replica_share(batch):
        """This replica's share of the global batch, b_r / B (float32 scalar), or None on one device.

        Each optimizer sums the replicas' gradients. Weighting every replica's mean loss by its
        share makes the sum the gradient of the mean over the global batch, however the batch
        was split (a last, smaller batch may be split unevenly).
        """
        context = _multi_replica_context()
        if context is None:
            return None
        local = ops.cast(batch, "float32")
        return local / context.all_reduce(tf.distribute.ReduceOp.SUM, local)

    @staticmethod
    def _scaled_loss(loss, share, optimizer):
        """The loss to differentiate: this replica's part of it, times the loss scale under mixed_float16.

        Call it inside the gradient tape. On one device with float32 it returns ``loss`` itself.
        """
        if share is not None:
            loss = loss * share
        return optimizer.scale_loss(loss)  # unchanged unless a LossScaleOptimizer (or loss_scale_factor)

    def _g_grad_norm(self, g_grads):
        """Global norm of G's full gradient (float32 scalar), or None when not tracked.

        Under a strategy the replicas' gradients are summed first (the optimizer does the same
        sum again for its update): the norm of the sum, not a mean of the replicas' norms. The
        loss scale is divided out; call this before ``apply_gradients``, which may change it.
        """
        if not self.track_grad_norm:
            return None
        grads = [g for g in g_grads if g is not None]
        context = _multi_replica_context()
        if context is not None:
            grads = context.all_reduce(tf.distribute.ReduceOp.SUM, grads)
        norm = tf.linalg.global_norm(grads)
        if isinstance(self.g_optimizer, keras.optimizers.LossScaleOptimizer):
            norm = norm / ops.cast(self.g_optimizer.dynamic_scale, norm.dtype)
        return norm

    def _update_ema(self):
        """One step of the moving average of G's weights, after G's update.

        Under a strategy every replica updates its own copy of the average from its own copy of
        G's weights; those are equal after each (summed) update, so the copies stay equal.
        """
        if self.ema_generator is None:
            return
        decay = self.ema_decay_now()
        for average, current in zip(self.ema_generator.weights, self.generator.weights):
            average.assign(decay * average + (1.0 - decay) * current)

    def ema_decay_now(self):
        """The moving average's decay for the next update: ``min(ema_decay, (1 + t) / (10 + t))``.

        t is G's updates so far. The warm-up is tf.train.ExponentialMovingAverage's: early on the
        average forgets quickly, so that a short run does not average in its random initial weights.
        """
        steps = ops.cast(applied_steps(self.g_optimizer), "float32")
        return ops.minimum(self.ema_decay, (1.0 + steps) / (10.0 + steps))

    # -- training and sampling ---------------------------------------------------------------

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None, sample_weight=None,
            initial_epoch=0, steps_per_epoch=None, validation_steps=None, validation_batch_size=None,
            validation_freq=1):
        """Keras's ``fit`` (same arguments, same order), after checking the data, with a NaN guard always on.

        ``x`` is a ``tf.data.Dataset`` of image batches (or ``(images, labels)`` batches for a
        conditional GAN), as made by ``gan_utils.data.as_dataset``, or an image array
        ``(N, 28, 28, 1)`` (then ``y`` holds the labels of a conditional GAN, and ``batch_size``
        and ``shuffle`` apply; a dataset batches and shuffles itself).

        With a ``resume.resume_from`` callback that finds a checkpoint, the run goes on where
        the checkpointed one stopped (``resume.prepare_fit``: the data is moved on, and the
        callback goes first so that the other callbacks see the restored model).

        Returns:
            Keras's ``History``.
        """

        self._check_training_data(x, y)
        self._initial_epoch = None  # Keras keeps a restored epoch on the model; a later fit must not start there
        x, steps_per_epoch, callbacks = resume.prepare_fit(x, steps_per_epoch, list(callbacks or []))
        if not any(isinstance(c, StopOnNaN) for c in callbacks):
            callbacks.append(StopOnNaN())
        is_dataset = isinstance(x, (tf.data.Dataset, tf.distribute.DistributedDataset))
        self._fit_steps_per_execution(steps_per_epoch)
        return super().fit(
            x=x, y=y, batch_size=batch_size, epochs=epochs, verbose=verbose, callbacks=callbacks,
            validation_split=validation_split, validation_data=validation_data,
            shuffle=False if is_dataset else shuffle,  # Keras warns about shuffle=True for a dataset
            class_weight=class_weight, sample_weight=sample_weight, initial_epoch=initial_epoch,
            steps_per_epoch=steps_per_epoch, validation_steps=validation_steps,
            validation_batch_size=validation_batch_size, validation_freq=validation_freq,
        )

    def _fit_steps_per_execution(self, steps_per_epoch):
        """Keras rounds an epoch up to whole executions; run exactly ``steps_per_epoch`` instead.

        With ``steps_per_execution=10`` and ``steps_per_epoch=3``, Keras would train 10 steps
        per epoch. The largest divisor of both is used instead (re-tracing the step if needed).
        """
        requested = getattr(self, "_requested_steps_per_execution", 1)
        wanted = math.gcd(int(steps_per_epoch), requested) if steps_per_epoch else requested
        if wanted != self.steps_per_execution:
            self.steps_per_execution = wanted
            self.train_function = None

    def save_generator(self, path) -> str:
        """Save the sampling generator as a plain ``.keras`` model (reload: ``keras.models.load_model``)."""
        path = str(path)
        if not path.endswith(".keras"):
            raise ValueError(f"save the generator to a .keras file, got {path!r}.")
        self.sampler.save(path)
        return path

    def _check_training_data(self, x, y):
        """Check ``fit()``'s data against the models, so that a mistake gets a clear ValueError.

        ``x`` is a ``tf.data.Dataset`` or a ``tf.distribute`` distributed dataset whose batches
        are images ``(batch, *image_shape)`` or ``(images, labels)`` pairs, or an image array
        ``(N, *image_shape)`` with labels ``y`` ``(N,)`` for a conditional GAN.
        """
        if isinstance(x, (tf.data.Dataset, tf.distribute.DistributedDataset)):
            image_spec, label_spec = _batch_specs(x.element_spec)
            image_shape, has_labels = tuple(image_spec.shape[1:]), label_spec is not None
        else:
            if x is None:
                raise ValueError("fit() needs data: a dataset from gan_utils.data.as_dataset, or images.")
            if isinstance(x, dict):
                raise ValueError(f"fit() got a dict (keys {sorted(x)}) as x: pass the images as x, and "
                                 "for a conditional GAN their labels as y, e.g. fit(images, labels).")
            image_shape, has_labels = tuple(np.shape(x)[1:]), y is not None
        if image_shape != self.image_shape:
            raise ValueError(
                f"The training data has shape (batch, {', '.join(map(str, image_shape))}) but the "
                f"discriminator expects (batch, {', '.join(map(str, self.image_shape))}). Reshape the "
                f"data (MNIST from gan_utils.data.load_mnist is (N, 28, 28, 1)) or build models for it."
            )
        if has_labels and not self.conditional:
            raise ValueError("The data has labels but this GAN is unconditional: use "
                             "as_dataset(images) without labels, or build a conditional generator.")
        if self.conditional and not has_labels:
            raise ValueError("This GAN is conditional and needs labels: use as_dataset(images, labels).")


def _batch_specs(spec):
    """The (images, labels or None) specs of one batch of a dataset, from its ``element_spec``.

    Raises a ValueError naming the fix for the structures a GAN cannot use: dicts, 1-tuples,
    and tuples with sample weights or targets.
    """
    fix = ("fit() takes a dataset of image batches, or of (images, labels) pairs for a conditional "
           "GAN, as gan_utils.data.as_dataset(images) or as_dataset(images, labels) makes")
    if isinstance(spec, dict):
        raise ValueError(f"The dataset yields dicts (keys {sorted(spec)}), but {fix}. Map it first, "
                         f"e.g. ds.map(lambda d: (d['image'], d['label'])) with your keys.")
    if isinstance(spec, tuple) and len(spec) == 1:
        raise ValueError(f"The dataset yields 1-tuples (images,), but {fix}. Yield the image batch "
                         f"itself: ds.map(lambda images: images).")
    if isinstance(spec, tuple) and len(spec) > 2:
        raise ValueError(f"The dataset yields {len(spec)}-tuples, but {fix}: a GAN uses no targets or "
                         f"sample weights. Drop the rest, e.g. ds.map(lambda images, labels, *rest: (images, labels)).")
    images, labels = spec if isinstance(spec, tuple) else (spec, None)
    images, labels = _one_replica(images), _one_replica(labels)
    if not isinstance(images, tf.TensorSpec) or not (labels is None or isinstance(labels, tf.TensorSpec)):
        raise ValueError(f"The dataset yields {spec}, but {fix}.")
    return images, labels


def _one_replica(spec):
    """One replica's spec of a distributed dataset's element (PerReplicaSpec), else ``spec`` itself."""
    # PerReplicaSpec has no public accessor; _value_specs holds one TensorSpec per replica.
    value_specs = getattr(spec, "_value_specs", None)
    return value_specs[0] if value_specs else spec


class _ReplicaSeeds(keras.random.SeedGenerator):
    """Replica r's view of the GAN's shared ``SeedGenerator``: its seeds, moved by r * REPLICA_SEED_STRIDE.

    Keras's random functions take a ``SeedGenerator`` and only call its ``next()``. This view
    advances the shared generator (whose per-replica copies advance in step) and adds
    ``[r * REPLICA_SEED_STRIDE, 0]`` to the ``[seed, counter]`` pair it returns, so replica r
    draws what a generator seeded with ``seed + r * REPLICA_SEED_STRIDE`` would.
    """

    def __init__(self, shared: keras.random.SeedGenerator, replica_id):
        # No super().__init__() on purpose: it would create a state variable inside the traced
        # step. The view has no state of its own; the shared generator's state is what is saved.
        self.shared = shared
        self.replica_id = replica_id

    def next(self, ordered=True):
        seed = self.shared.next(ordered)
        offset = ops.cast(self.replica_id, seed.dtype) * REPLICA_SEED_STRIDE
        return seed + ops.stack([offset, ops.zeros_like(offset)])


def _mismatched_share(mismatched_pairs):
    """``(on, w)``: whether mismatched pairs are on and their share of the negatives' weight."""
    if mismatched_pairs is True:
        return True, 0.5
    if mismatched_pairs is False or mismatched_pairs is None or mismatched_pairs == 0:
        return False, 0.0
    if isinstance(mismatched_pairs, (int, float)) and 0.0 < mismatched_pairs < 1.0:
        return True, float(mismatched_pairs)
    raise ValueError(f"mismatched_pairs must be True, False or a share in (0, 1) of the negatives' weight, "
                     f"got {mismatched_pairs!r}.")


def _multi_replica_context():
    """The replica context of a step running on several replicas, or None on one device."""
    context = tf.distribute.get_replica_context()
    return context if context is not None and context.num_replicas_in_sync > 1 else None


def applied_steps(optimizer):
    """The number of updates ``optimizer`` has applied (a Keras variable), wrapped in loss scaling or not.

    Under mixed precision the engine wraps its optimizers in ``LossScaleOptimizer``, whose own
    ``iterations`` stays at 0 on Keras 3.8 (keras-team/keras#20878, fixed in 3.9): the inner
    optimizer's count is the one that moves on every version. A step skipped because its
    float16 gradients overflowed is not counted.
    """
    return getattr(optimizer, "inner_optimizer", optimizer).iterations


def _check_options(loss, g_loss, real_label, gradient_penalty, r1_penalty, d_steps, update, ema_decay):
    """Raise a ValueError naming the option and its allowed values for any option a GAN cannot use."""
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}.")
    if g_loss not in G_LOSSES:
        raise ValueError(f"g_loss must be one of {G_LOSSES}, got {g_loss!r}.")
    if loss != "bce" and g_loss != "non_saturating":
        raise ValueError(f"g_loss={g_loss!r} belongs to the \"bce\" game; loss={loss!r} sets G's loss itself "
                         "(-E[D(G(z))]). Leave g_loss out.")
    for name, penalty in (("gradient_penalty", gradient_penalty), ("r1_penalty", r1_penalty)):
        if not isinstance(penalty, (int, float)) or not math.isfinite(penalty) or penalty < 0:
            raise ValueError(f"{name} must be a number >= 0 (0 turns it off), got {penalty!r}.")
    if update not in UPDATES:
        raise ValueError(f"update must be one of {UPDATES}, got {update!r}.")
    if not isinstance(d_steps, int) or d_steps < 1:
        raise ValueError(f"d_steps must be a positive integer, got {d_steps!r}.")
    if not 0.5 < real_label <= 1.0:
        raise ValueError(f"real_label must be in (0.5, 1], got {real_label!r} (0.9 is the usual smoothing).")
    if ema_decay is not None and not 0.0 < ema_decay < 1.0:
        raise ValueError(f"ema_decay must be in (0, 1) or None, got {ema_decay!r}.")


def _check_pair(generator, discriminator):
    if not isinstance(generator, keras.Model) or not isinstance(discriminator, keras.Model):
        raise ValueError("generator and discriminator must be keras.Model objects (see gan_utils.models).")
    if len(generator.inputs) != len(discriminator.inputs) or len(generator.inputs) not in (1, 2):
        raise ValueError(
            f"generator takes {len(generator.inputs)} inputs and discriminator {len(discriminator.inputs)}: "
            "both take one (unconditional) or both take two, [noise or image, labels] (conditional)."
        )
    g_out = tuple(generator.outputs[0].shape[1:])
    d_in = tuple(discriminator.inputs[0].shape[1:])
    if g_out != d_in:
        raise ValueError(f"generator makes images of shape {g_out} but the discriminator takes {d_in}.")
    if tuple(discriminator.outputs[0].shape[1:]) != (1,):
        raise ValueError("the discriminator must output one logit per image, shape (batch, 1).")


def _num_classes(generator) -> int:
    for layer in generator.layers:
        if isinstance(layer, keras.layers.CategoryEncoding):
            return int(layer.num_tokens)
        if isinstance(layer, keras.layers.Embedding):
            return int(layer.input_dim)
    raise ValueError("cannot tell how many classes the conditional generator knows: "
                     "it needs a CategoryEncoding or Embedding layer on its label input.")
