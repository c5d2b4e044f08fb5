"""Checks for the notebooks' exercises: the student's code run beside the engine's.

``check_training_step`` takes a training step written by hand (notebook 2's "Your turn") and
runs it and the engine's ``GAN.train_step`` from the same weights, on the same real batch and
the same noise. Both networks must end with the same weights. When they do not, the message says
which network differs and which mistakes fit what it sees: a loss with the wrong sign, D's loss
reaching G (a missing ``tf.stop_gradient``), G's loss reaching D, or G judged by the D from
before D's update.
"""

from __future__ import annotations

import ast
import inspect
import textwrap

from .backend import require_tensorflow

require_tensorflow()  # before Keras and TensorFlow, so that a missing TF or a JAX backend gets a clear message

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from . import training  # noqa: E402

RTOL = 1e-3  # allowed difference, as a share of the largest weight change the engine's step made
ATOL = 1e-7  # plus float32 round-off on weights that barely move
SIGN_COSINE = -0.99  # a student's change this opposed to the engine's is the engine's change negated
LEAK_COSINE = 0.9  # a difference this aligned with the other loss's gradient means that loss leaked in
NETWORKS = ("discriminator", "generator")


def check_training_step(student_step, generator: keras.Model, discriminator: keras.Model, real_images, z=None,
                        d_optimizer=None, g_optimizer=None, seed: int = 0, verbose: bool = True):
    """Check a hand-written GAN training step against the engine's, from the same starting point.

    The student's step must do what ``gan_utils.training.GAN`` does with its defaults
    (alternating update, non-saturating loss, real label 1): one gradient step on D with the
    fakes ``G(z)`` held fixed, then one gradient step on G through the *updated* D's verdict on
    the same fakes. It is called as::

        student_step(generator, discriminator, g_optimizer, d_optimizer, real_images, z)

    on copies of the models (the models passed in are not changed), with fresh optimizers. The
    engine's ``train_step`` runs on other copies, from the same weights and optimizer settings,
    with its noise replaced by the same ``z``. Then each network's trainable weights are
    compared.

    By default both optimizers are plain SGD (learning rate 0.1), whose update is the gradient
    itself, so that a loss off by a constant factor shows too. Adam's first step is close to
    ``learning_rate * sign(gradient)`` and would hide that; pass Adam optimizers to check with
    them anyway (their settings are copied, their state is not).

    Args:
        student_step: the function to check (see above). Its return value is ignored.
        generator: unconditional generator, ``z (batch, latent_dim) -> images``. Without dropout:
            both steps must compute the same thing.
        discriminator: ``images -> logits (batch, 1)``, without dropout.
        real_images: one batch of real images, ``(batch, *image shape)``, in the generator's
            output range.
        z: the noise, ``(batch, latent_dim)``; by default drawn from N(0, 1) with ``seed``.
        d_optimizer, g_optimizer: optional Keras optimizers whose settings both steps use.
        seed: for the default ``z``.
        verbose: print one line when the step matches.

    Returns:
        ``{"discriminator": d, "generator": g}``, the largest absolute weight difference of each
        network; or None, after saying so, when ``student_step`` still holds ``...`` blanks.

    Raises:
        AssertionError: a network ends with other weights than the engine's. The message says
            which one, by how much, and the likely mistakes.
        ValueError: the models, images or noise do not fit together.
    """
    blanks = _blank_lines(student_step)
    if blanks:
        name = getattr(student_step, "__name__", "the step")
        print(f"{name} still has blanks (`...`) on line{'s' if len(blanks) > 1 else ''} "
              f"{', '.join(map(str, blanks))} of its definition: fill them in, run its cell, then run this one again.")
        return None
    real, z = _check_inputs(generator, discriminator, real_images, z, seed)
    d_optimizer = d_optimizer or keras.optimizers.SGD(learning_rate=0.1)
    g_optimizer = g_optimizer or keras.optimizers.SGD(learning_rate=0.1)

    start = {"generator": _trainable(generator), "discriminator": _trainable(discriminator)}
    student_g, student_d = _copy(generator), _copy(discriminator)
    try:
        student_step(student_g, student_d, _fresh(g_optimizer), _fresh(d_optimizer), real, z)
    except Exception as error:
        raise RuntimeError(
            f"Your step raised {type(error).__name__}: {error}\nIt was called as student_step(generator, "
            f"discriminator, g_optimizer, d_optimizer, real_images, z) with real_images {tuple(real.shape)} "
            f"and z {tuple(z.shape)}; the traceback above shows the line."
        ) from error
    student = {"generator": _trainable(student_g), "discriminator": _trainable(student_d)}
    engine = _engine_step(generator, discriminator, d_optimizer, g_optimizer, real, z)

    differences = {net: _max_difference(student[net], engine[net]) for net in NETWORKS}
    moves = {net: _max_difference(engine[net], start[net]) for net in NETWORKS}
    wrong = [net for net in NETWORKS if differences[net] > RTOL * moves[net] + ATOL]
    if wrong:
        context = dict(generator=generator, discriminator=discriminator, d_optimizer=d_optimizer,
                       g_optimizer=g_optimizer, real=real, z=z)
        raise AssertionError(_failure_message(wrong, start, student, engine, differences, moves, context))
    if verbose:
        print(f"Your step matches the engine's: D's weights agree to {differences['discriminator']:.1e} and G's "
              f"to {differences['generator']:.1e} (the step moved them by up to {moves['discriminator']:.1e} "
              f"and {moves['generator']:.1e}).")
    return differences


# --------------------------------------------------------------------------------------------
# Running the two steps
# --------------------------------------------------------------------------------------------

class _GivenNoiseGAN(training.GAN):
    """The engine, drawing the given ``z`` wherever it would draw fresh training noise."""

    def __init__(self, generator, discriminator, z, **kwargs):
        super().__init__(generator, discriminator, **kwargs)
        self._given_z = z
        self.noise_draws = 0

    def _noise(self, batch):
        self.noise_draws += 1  # eager: counts the draws, so that a renamed hook cannot go unnoticed
        return self._given_z


def _engine_step(generator, discriminator, d_optimizer, g_optimizer, real, z, **gan_kwargs):
    """The trainable weights of both networks after one engine step from the given models' weights."""
    gan = _GivenNoiseGAN(_copy(generator), _copy(discriminator), z, **gan_kwargs)
    gan.compile(d_optimizer=_fresh(d_optimizer), g_optimizer=_fresh(g_optimizer), steps_per_execution=1)
    gan.train_step(real)
    if gan.noise_draws != 1:
        raise RuntimeError(
            f"The engine drew its noise {gan.noise_draws} times through GAN._noise in one step, not once: "
            "gan_utils.training changed how it draws noise, and gan_utils.exercises must follow it."
        )
    return {"generator": _trainable(gan.generator), "discriminator": _trainable(gan.discriminator)}


def _copy(model: keras.Model) -> keras.Model:
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    return clone


def _fresh(optimizer):
    """A new optimizer with ``optimizer``'s settings and none of its state."""
    return type(optimizer).from_config(optimizer.get_config())


def _trainable(model: keras.Model) -> list:
    return [np.array(v.numpy(), dtype=np.float64) for v in model.trainable_variables]


def _check_inputs(generator, discriminator, real_images, z, seed):
    if not isinstance(generator, keras.Model) or not isinstance(discriminator, keras.Model):
        raise ValueError("generator and discriminator must be keras.Model objects (see gan_utils.models).")
    if len(generator.inputs) != 1:
        raise ValueError("check_training_step checks unconditional GANs: the generator must take z only.")
    latent_dim = int(generator.inputs[0].shape[-1])
    image_shape = tuple(discriminator.inputs[0].shape[1:])
    real = np.asarray(real_images, dtype=np.float32)
    if real.ndim < 2 or tuple(real.shape[1:]) != image_shape or len(real) == 0:
        raise ValueError(f"real_images must be a batch (batch, {', '.join(map(str, image_shape))}) as the "
                         f"discriminator takes, got shape {real.shape}.")
    if z is None:
        z = np.random.default_rng(seed).standard_normal((len(real), latent_dim))
    z = np.asarray(z, dtype=np.float32)
    if z.shape != (len(real), latent_dim):
        raise ValueError(f"z must have shape ({len(real)}, {latent_dim}): one noise vector per real image, "
                         f"got {z.shape}.")
    return tf.constant(real), tf.constant(z)


def _blank_lines(function) -> list:
    """Line numbers (within its definition) of the ``...`` blanks left in ``function``'s code."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    except (OSError, TypeError, SyntaxError):  # no source to read (a built-in, a lambda in a REPL)
        return []
    return sorted({node.lineno for node in ast.walk(tree)
                   if isinstance(node, ast.Constant) and node.value is Ellipsis})


def _max_difference(a: list, b: list) -> float:
    return max((float(np.abs(x - y).max()) for x, y in zip(a, b) if x.size), default=0.0)


# --------------------------------------------------------------------------------------------
# Explaining a mismatch
# --------------------------------------------------------------------------------------------

LIKELY = {
    "discriminator": [
        "D's loss: real images towards 1 and fakes towards 0, "
        "L_D = 1/2 [mean softplus(-real_logits) + mean softplus(fake_logits)]; a flipped sign or swapped "
        "softplus arguments train D to call real images fake.",
        "D's gradient: with respect to discriminator.trainable_variables, applied with d_optimizer.",
        "G's step must not move D: take G's gradient with respect to generator.trainable_variables only.",
        "The fakes: generator(z, training=True) with the z given, not fresh noise.",
    ],
    "generator": [
        "G's loss: the non-saturating L_G = mean softplus(-logits) = -log D(G(z)), on the fakes' logits; "
        "a flipped sign makes G run away from the real images.",
        "D's step must not move G: feed D tf.stop_gradient(fake) and take D's gradient with respect to "
        "discriminator.trainable_variables only.",
        "G's verdict must come from the updated D: call discriminator(fake) after d_optimizer.apply_gradients.",
        "G's gradient: with respect to generator.trainable_variables, applied with g_optimizer.",
        "The fakes: generator(z, training=True) with the z given, not fresh noise.",
    ],
}


def _failure_message(wrong, start, student, engine, differences, moves, context) -> str:
    lines = ["Your training step does not match the engine's GAN.train_step (same weights, batch and noise):"]
    for net in wrong:
        lines.append(f"  * the {net}'s weights differ by up to {differences[net]:.2e}; the engine's step "
                     f"moved them by up to {moves[net]:.2e}.")
    findings = _findings(wrong, start, student, engine, context)
    if findings:
        lines.append("What the weights suggest:")
        lines += [f"  - {finding}" for finding in findings]
    if "discriminator" in wrong and "generator" in wrong:
        lines.append("Fix D's step first: G's step goes through the updated D, so a wrong D step moves G "
                     "differently too.")
    for net in wrong:
        lines.append(f"{'Otherwise, c' if findings else 'C'}heck the {net}'s step, one point at a time:")
        lines += [f"  - {item}" for item in LIKELY[net]]
    return "\n".join(lines)


def _findings(wrong, start, student, engine, context) -> list:
    """Specific readings of the mismatch: no move at all, the opposite move, a leaked loss, a variant."""
    found = []
    for net in wrong:
        student_move = _flat(student[net]) - _flat(start[net])
        engine_move = _flat(engine[net]) - _flat(start[net])
        if not np.any(student_move):
            found.append(f"the {net} did not move at all: no gradient step reached its variables.")
        elif _cosine(student_move, engine_move) < SIGN_COSINE:
            found.append(f"the {net} moved exactly against the engine's step: its loss has the wrong sign.")
    if "generator" in wrong and "discriminator" not in wrong:
        found += _generator_findings(student, engine, context)
    if "discriminator" in wrong:
        found += _discriminator_findings(student, engine, context)
    return found


def _generator_findings(student, engine, context) -> list:
    found = []
    variants = {
        "update": ("simultaneous", "G was judged by the D from before D's update: compute G's verdict "
                                   "after d_optimizer.apply_gradients."),
        "g_loss": ("minimax", "G used the minimax loss log(1 - D(G(z))) = -softplus(logits): use the "
                              "non-saturating -log D(G(z)) = softplus(-logits)."),
    }
    for option, (value, finding) in variants.items():
        variant = _engine_step(context["generator"], context["discriminator"], context["d_optimizer"],
                               context["g_optimizer"], context["real"], context["z"], **{option: value})
        if _max_difference(student["generator"], variant["generator"]) <= RTOL * _max_difference(
                variant["generator"], _trainable(context["generator"])) + ATOL:
            found.append(finding)
    leak = _flat(student["generator"]) - _flat(engine["generator"])
    if not found and _cosine(leak, -_flat(_d_loss_gradient_wrt_g(context))) > LEAK_COSINE:
        found.append("G's weights also moved down the gradient of D's loss: D's loss reached G. Feed D "
                     "tf.stop_gradient(fake) and take D's gradient with respect to D's variables only.")
    return found


def _discriminator_findings(student, engine, context) -> list:
    leak = _flat(student["discriminator"]) - _flat(engine["discriminator"])
    if _cosine(leak, -_flat(_g_loss_gradient_wrt_d(context, engine))) > LEAK_COSINE:
        return ["D's weights also moved down the gradient of G's loss: G's loss reached D. Take G's gradient "
                "with respect to generator.trainable_variables only."]
    return []


def _d_loss_gradient_wrt_g(context) -> list:
    """dL_D/d(G's weights) at the starting weights: what a D step that forgot stop_gradient adds to G."""
    generator, discriminator = _copy(context["generator"]), _copy(context["discriminator"])
    with tf.GradientTape() as tape:
        fake = generator(context["z"], training=True)
        loss = training.discriminator_loss(discriminator(context["real"], training=True),
                                           discriminator(fake, training=True))
    return _dense(tape.gradient(loss, generator.trainable_variables), generator)


def _g_loss_gradient_wrt_d(context, engine) -> list:
    """dL_G/d(D's weights) at the updated D: what a G step that also updates D adds to D."""
    generator, discriminator = _copy(context["generator"]), _copy(context["discriminator"])
    for variable, value in zip(discriminator.trainable_variables, engine["discriminator"]):
        variable.assign(value.astype(np.float32))
    with tf.GradientTape() as tape:
        loss = training.generator_loss(discriminator(generator(context["z"], training=True), training=True))
    return _dense(tape.gradient(loss, discriminator.trainable_variables), discriminator)


def _dense(gradients, model) -> list:
    return [np.zeros(v.shape) if g is None else np.asarray(g, dtype=np.float64)
            for g, v in zip(gradients, model.trainable_variables)]


def _flat(arrays: list) -> np.ndarray:
    return np.concatenate([np.ravel(a) for a in arrays]) if arrays else np.zeros(0)


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    norms = np.linalg.norm(a) * np.linalg.norm(b)
    return float(a @ b / norms) if norms > 0 else 0.0
