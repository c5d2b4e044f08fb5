"""tools/train_generators.py: which checkpoint it keeps."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from train_generators import _rank  # noqa: E402  (tools/ is not a package)


def test_an_unconditional_checkpoint_is_ranked_by_its_fid():
    assert _rank({"fid": 3.0}) < _rank({"fid": 3.5})


def test_a_conditional_checkpoint_that_misses_the_label_targets_ranks_below_one_that_meets_them():
    lower_fid_but_mislabels = {"fid": 3.17, "label_accuracy": 0.9936, "worst_digit_accuracy": 0.982}
    obeys_labels = {"fid": 3.46, "label_accuracy": 0.9976, "worst_digit_accuracy": 0.992}
    assert _rank(obeys_labels) < _rank(lower_fid_but_mislabels)
    worst_digit_too_low = {"fid": 3.0, "label_accuracy": 0.998, "worst_digit_accuracy": 0.98}
    assert _rank(obeys_labels) < _rank(worst_digit_too_low)


def test_among_checkpoints_that_all_miss_the_targets_the_lower_fid_wins():
    assert _rank({"fid": 3.0, "label_accuracy": 0.9, "worst_digit_accuracy": 0.8}) < \
        _rank({"fid": 4.0, "label_accuracy": 0.99, "worst_digit_accuracy": 0.97})
