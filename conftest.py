"""Root pytest configuration: every test and every notebook kernel runs in quick mode.

``setdefault`` lets a caller still run the notebooks at full size with GAN_UTILS_QUICK=0.
nbval starts its kernels from this process's environment, so the setting reaches them.
"""

import os

os.environ.setdefault("GAN_UTILS_QUICK", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
