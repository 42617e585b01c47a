"""Every gate of a notebook opens its own Progress on one file: no record may drop another's."""

from __future__ import annotations

from k8snet_lesson.view.learner import Progress


def test_two_holders_of_one_file_keep_each_others_predictions(tmp_path):
    path = tmp_path / "progress.json"
    first, second = Progress.open(path), Progress.open(path)
    first.record_prediction("05-unready-leaves", "a", correct=False)
    second.record_prediction("05-hairpin-source", "10.244.2.14", correct=False)
    first.record_prediction("05-unready-leaves", "b", correct=True)
    again = Progress.open(path)
    assert again.prediction("05-unready-leaves")["given"] == "a"
    assert again.prediction("05-unready-leaves")["attempts"] == [{"given": "b", "correct": True}]
    assert again.prediction("05-hairpin-source")["given"] == "10.244.2.14"
