"""The package builds with today's setuptools and installs without touching TensorFlow."""

import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_licence_is_an_spdx_expression_with_a_setuptools_that_reads_it():
    # The table form `license = {text = ...}` is deprecated by setuptools; an isolated build
    # (Colab's pip install) takes the newest setuptools, so the old form would break one day.
    assert PROJECT["project"]["license"] == "MIT"
    assert (ROOT / "LICENSE").is_file()
    requires = PROJECT["build-system"]["requires"]
    assert any(r.replace(" ", "").startswith("setuptools>=") and
               int(r.split(">=")[1].split(".")[0]) >= 77 for r in requires), requires


def test_tensorflow_is_only_an_extra():
    # Colab has its own GPU build of TensorFlow; installing gan_utils must not replace it.
    assert not any("tensorflow" in d.lower() for d in PROJECT["project"]["dependencies"])
    assert any(d.startswith("tensorflow") for d in PROJECT["project"]["optional-dependencies"]["tf"])


def test_installing_the_package_cannot_upgrade_colabs_numpy():
    # Colab's TensorFlow 2.19 needs numpy<2.2; mlxtend 0.24 and later require numpy>=2.3.5, so an
    # uncapped mlxtend would make `pip install gan_utils` upgrade numpy and break TensorFlow there.
    (mlxtend,) = [d for d in PROJECT["project"]["dependencies"] if d.startswith("mlxtend")]
    assert "<0.24" in mlxtend.replace(" ", ""), mlxtend


def test_requirements_txt_lists_what_the_package_and_its_tf_and_dev_extras_ask_for():
    # One list of what the series needs: `pip install -e .[tf,dev]` and `pip install -r requirements.txt`
    # install the same packages with the same ranges.
    lines = [line.split("#")[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    listed = {line.replace(" ", "") for line in lines if line and not line.startswith("-e")}
    extras = PROJECT["project"]["optional-dependencies"]
    declared = {d.replace(" ", "") for d in PROJECT["project"]["dependencies"] + extras["tf"] + extras["dev"]}
    assert listed == declared, (sorted(listed - declared), sorted(declared - listed))
    assert "-e ." in lines
