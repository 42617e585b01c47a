"""The learner's progress file: kept between sessions, never a crash."""

from __future__ import annotations

import json
import os

import pytest

from k8snet_lesson.view.learner import Progress, progress_path


def test_the_default_place_is_outside_the_repository(monkeypatch, tmp_path):
    monkeypatch.delenv("K8SNET_PROGRESS")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert progress_path() == tmp_path / "data" / "k8snet-lesson" / "progress.json"
    monkeypatch.setenv("K8SNET_PROGRESS", str(tmp_path / "mine.json"))
    assert progress_path() == tmp_path / "mine.json"


def test_predictions_and_answers_survive_a_new_session(tmp_path):
    path = tmp_path / "progress.json"
    progress = Progress.open(path)
    seed = progress.seed
    progress.record_prediction("05-share", "1/4", correct=False)
    progress.record_answer("quiz-2", "<none>", correct=True)
    progress.record_answer("quiz-2", "<none>", correct=True)
    again = Progress.open(path)
    assert again.seed == seed
    assert again.prediction("05-share") == {"given": "1/4", "correct": False, "attempts": []}
    assert again.answer("quiz-2")["tries"] == 2 and again.answer("quiz-2")["first_correct"]


def test_seeds_differ_between_learners(tmp_path):
    seeds = {Progress.open(tmp_path / f"{i}.json").seed for i in range(8)}
    assert len(seeds) > 1


def test_an_unreadable_file_is_set_aside_not_fatal(tmp_path):
    path = tmp_path / "progress.json"
    path.write_text("{not json")
    progress = Progress.open(path)
    assert "could not be read" in progress.warning
    assert (tmp_path / "progress.json.unreadable").read_text() == "{not json"
    assert json.loads(path.read_text())["predictions"] == {}


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_a_read_only_home_keeps_progress_in_memory(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        progress = Progress.open(folder / "sub" / "progress.json")
        progress.record_prediction("05-share", "1/3", correct=True)
        assert progress.prediction("05-share")["correct"] and "cannot be saved" in progress.warning
    finally:
        folder.chmod(0o700)


def test_a_file_that_cannot_be_written_keeps_progress_in_memory(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    progress = Progress.open(blocker / "progress.json")  # a file where a directory should be
    progress.record_prediction("05-share", "1/3", correct=True)
    assert progress.prediction("05-share")["correct"] and "cannot be saved" in progress.warning


def test_reset_forgets_answers_but_keeps_the_seed(tmp_path):
    progress = Progress.open(tmp_path / "p.json")
    progress.record_prediction("05-share", "1/3", correct=True)
    seed = progress.seed
    progress.reset()
    assert Progress.open(tmp_path / "p.json").predictions() == {} and Progress.open(tmp_path / "p.json").seed == seed
