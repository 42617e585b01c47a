"""Several gates of one notebook each open their own Progress on the same file: none loses another's record."""

from __future__ import annotations

from k8snet_lesson.view.learner import Progress


def test_two_progress_objects_on_one_file_keep_both_predictions(tmp_path):
    path = tmp_path / "progress.json"
    first, second = Progress.open(path), Progress.open(path)  # two gates, opened before either is answered
    first.record_prediction("06-names-tried", "1", correct=False)
    second.record_prediction("06-first-rung", "ClusterIP", correct=True)
    first.record_prediction("06-names-tried", "2", correct=True)
    second.record_answer("quiz-1", "b", correct=True)
    reopened = Progress.open(path)
    assert reopened.prediction("06-names-tried") == {"given": "1", "correct": False,
                                                      "attempts": [{"given": "2", "correct": True}]}
    assert reopened.prediction("06-first-rung")["given"] == "ClusterIP"
    assert reopened.answer("quiz-1")["given"] == "b"


def test_an_unreadable_file_leaves_the_records_in_memory(tmp_path):
    path = tmp_path / "progress.json"
    progress = Progress.open(path)
    path.write_text("not json")
    progress.record_prediction("06-names-tried", "2", correct=True)
    assert progress.prediction("06-names-tried")["given"] == "2"
