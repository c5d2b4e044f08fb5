"""One check before anything imports TensorFlow or Keras: that gan_utils can train here.

gan_utils trains with TensorFlow (its engine uses ``tf.GradientTape``, ``tf.data`` and
``tf.distribute``). Two set-ups make that impossible, and both otherwise end in a traceback that
does not say what to do:

* TensorFlow is not installed: ``ModuleNotFoundError: No module named 'tensorflow'``. TensorFlow is
  an optional dependency on purpose (installing gan_utils on Colab must not replace Colab's GPU
  build), so a plain ``pip install gan_utils`` leaves it out.
* Keras is set to another backend (``KERAS_BACKEND=jax``, or ``"backend"`` in ``keras.json``):
  Keras then imports JAX, or fails with ``No module named 'jax'`` when JAX is missing.

``require_tensorflow()`` turns both into an ``ImportError`` that names the fix. Call it at the top
of a module, before ``import keras`` and ``import tensorflow``.
"""

from __future__ import annotations

import os
import sys

INSTALL_HINT = 'pip install "gan_utils[tf]" (or pip install tensorflow)'
OTHER_BACKEND_MODULES = ("jax", "jaxlib", "torch", "openvino")  # what Keras's other backends import


# What TensorFlow wrote to standard error while import_tensorflow_quietly started it.
startup_messages = ""


def require_tensorflow() -> None:
    """Make sure TensorFlow is installed and is Keras's backend, else raise a clear ImportError.

    Checks, in this order and importing as little as possible: the ``KERAS_BACKEND`` environment
    variable (without importing Keras, which would fail on a missing JAX first), that TensorFlow
    imports, and then Keras's configured backend (which also covers ``~/.keras/keras.json``).

    Raises:
        ImportError: TensorFlow is not installed (the message says what to install), or Keras
            uses another backend (the message says how to switch it to TensorFlow).
    """
    if "keras" not in sys.modules:
        requested = os.environ.get("KERAS_BACKEND")
        if requested and requested != "tensorflow":
            raise ImportError(_backend_message(f"the {requested!r} backend", f"KERAS_BACKEND={requested}"))
    _import_tensorflow()
    _check_keras_backend()


def import_tensorflow_quietly() -> None:
    """Import TensorFlow and start its CPU device without its C++ start-up messages on the page.

    On a machine without a GPU, TensorFlow's C++ side writes a block of messages straight to the
    process's standard error when it starts ("All log messages before absl::InitializeLog() ...",
    "Could not find cuda drivers ...", "failed call to cuInit ..."). ``TF_CPP_MIN_LOG_LEVEL`` does
    not hide them all, and Jupyter shows that stream as a red block above the first output.
    This sends the stream to a temporary file while TensorFlow starts, then restores it.

    It returns nothing, so that it can end a notebook cell without Jupyter showing a result. The
    messages are kept in ``gan_utils.backend.startup_messages`` ("" if TensorFlow was already
    imported) for anyone who wants to read them.

    Raises:
        ImportError: as ``require_tensorflow``; the start-up messages are printed first then,
            since they may explain the failure.
    """
    global startup_messages
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # what TensorFlow's own logger respects
    if "tensorflow" in sys.modules:
        return
    import tempfile

    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as log:
        os.dup2(log.fileno(), 2)
        try:
            require_tensorflow()
            import tensorflow as tf

            tf.config.list_logical_devices()  # device start-up (CUDA probing) logs here, too
            failed = False
        except BaseException:
            failed = True
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            log.seek(0)
            startup_messages = log.read().decode(errors="replace")
            if failed:
                sys.stderr.write(startup_messages)


def _import_tensorflow() -> None:
    try:
        import tensorflow  # noqa: F401
    except ModuleNotFoundError as error:
        if (error.name or "").split(".")[0] != "tensorflow":
            raise  # TensorFlow is there but one of its own dependencies is broken: show that.
        raise ImportError(
            f"gan_utils trains with TensorFlow, which is not installed. Install it with {INSTALL_HINT}; "
            "on Colab it is already installed."
        ) from error


def _check_keras_backend() -> None:
    try:
        import keras
    except ModuleNotFoundError as error:
        missing = (error.name or "").split(".")[0]
        if missing == "keras":
            raise ImportError(f"gan_utils needs Keras 3, which is not installed. Install it with {INSTALL_HINT}.") \
                from error
        if missing not in OTHER_BACKEND_MODULES:
            raise  # one of Keras's own dependencies is broken: show that.
        # Keras imports the backend named in its configuration (keras.json), and that one is missing.
        raise ImportError(_backend_message(f"a backend that needs the missing module {error.name!r}",
                                           "its configuration")) from error
    name = keras.backend.backend()
    if name != "tensorflow":
        raise ImportError(_backend_message(f"the {name!r} backend", "its configuration"))


def _backend_message(backend: str, source: str) -> str:
    return (
        f"gan_utils trains with TensorFlow, but Keras is set to {backend} ({source}). "
        "Unset KERAS_BACKEND, or set it to tensorflow before Keras is first imported: "
        'os.environ["KERAS_BACKEND"] = "tensorflow" in the first cell of a notebook (restart the '
        'kernel if Keras was already imported), or export KERAS_BACKEND=tensorflow in a shell. '
        'Check also "backend" in ~/.keras/keras.json.'
    )
