"""Small builders shared by the engine's test files (tests/ is on sys.path under pytest)."""

import keras

from gan_utils import models, training


def mlp_gan(seed=0, **kwargs):
    """Lee's MLP GAN (sigmoid images), compiled with the engine's defaults, from a fixed seed."""
    keras.utils.set_random_seed(seed)
    gan = training.GAN(models.mlp_generator(), models.mlp_discriminator(), seed=seed, **kwargs)
    gan.compile()
    return gan
