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
# The tests run in two workers on two cores, each worker and each notebook kernel a TensorFlow
# process: one thread per pool each, not two, keeps them from crowding each other (about 13% faster).
for threads in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(threads, "1")
os.environ["GAN_UTILS_OUTPUT"] = str(TEST_OUTPUTS)


def pytest_sessionstart(session):
    if not hasattr(session.config, "workerinput"):  # the controller, once, before any worker starts
        shutil.rmtree(TEST_OUTPUTS / "checkpoints", ignore_errors=True)


# The longest units of work first, so that the two workers finish together: the later notebooks train
# most, then the browser test. This replaces pytest-xdist's own order (scopes by number of tests).
FIRST = ["notebooks/07", "notebooks/06", "notebooks/05", "notebooks/04", "notebooks/03", "notebooks/02",
         "notebooks/01", "notebooks/00", "tests/test_jupyterlab.py", "tests/test_training.py", "tests/test_resume.py"]


def _rank(item) -> int:
    return next((rank for rank, prefix in enumerate(FIRST) if item.nodeid.startswith(prefix)), len(FIRST))


def pytest_collection_modifyitems(session, config, items):
    items.sort(key=_rank)  # stable: each notebook's cells and each module's tests keep their order


def pytest_configure(config):
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False
