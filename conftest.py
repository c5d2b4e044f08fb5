"""Root pytest configuration: every test and every notebook kernel runs in quick mode, in its own outputs.

``setdefault`` lets a caller still run the notebooks at full size with GAN_UTILS_QUICK=0.
nbval starts its kernels from this process's environment, so the settings reach them.

The tests write their figures, checkpoints and judge cache to ``build/test-outputs``, never to the
``outputs/`` folder that ``make lab`` uses: a test run beside an open notebook must not delete or
overwrite its checkpoint. The judge cache there is kept between runs (it is keyed by the data and
the recipe); checkpoints are cleared when a run starts, so that no test resumes a stale one.
"""

import os
import shutil
from pathlib import Path

# With GAN_UTILS_EXECUTED_DIR set, nbval's run leaves an executed copy of each notebook there (make test
# builds the book from them, so that every notebook is executed once).
pytest_plugins = ["tests.nbval_record"]

ROOT = Path(__file__).resolve().parent
TEST_OUTPUTS = ROOT / "build" / "test-outputs"

os.environ.setdefault("GAN_UTILS_QUICK", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["GAN_UTILS_OUTPUT"] = str(TEST_OUTPUTS)


def pytest_sessionstart(session):
    if not hasattr(session.config, "workerinput"):  # the controller, once, before any worker starts
        shutil.rmtree(TEST_OUTPUTS / "checkpoints", ignore_errors=True)
