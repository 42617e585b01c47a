"""What one learner predicted and answered, kept in a small JSON file between sessions.

The file lives outside the repository's tracked files: ``$K8SNET_PROGRESS`` when set,
else ``$XDG_DATA_HOME/k8snet-lesson/progress.json`` (``~/.local/share/...`` by
default). It survives a kernel restart and a fresh Binder session of the same
server, and it feeds the progress summary in notebook 07. Nothing below the edge
knows about learners: the model computes answers; this module only remembers them.

It holds:

- ``predictions``: per prediction id, the first answer committed (the prediction
  itself), whether it was right, and every later attempt;
- ``answers``: per quiz item id, the latest answer and whether it was right;
- ``seed``: the learner's own random seed, drawn once, which shuffles quiz choices
  and picks variants, so each learner sees their own order and it stays put.

A file that cannot be read (hand-edited into nonsense) is set aside as
``progress.json.unreadable`` and a fresh one is started; a file that cannot be
written (a read-only home) leaves the progress in memory for the session, and
``Progress.warning`` says so. Neither raises.

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "progress.json"
    >>> progress = Progress.open(path)
    >>> progress.record_prediction("02-next-pod-ip", "10.244.2.2", correct=False)
    >>> progress.record_prediction("02-next-pod-ip", "10.244.2.5", correct=True)
    >>> Progress.open(path).prediction("02-next-pod-ip")["given"]
    '10.244.2.2'
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
from pathlib import Path
from typing import TypedDict

__all__ = ["PROGRESS_ENV", "progress_path", "Progress", "Attempt", "Predicted", "Answered", "Saved"]

PROGRESS_ENV = "K8SNET_PROGRESS"
_VERSION = 1


class Attempt(TypedDict):
    """One answer the learner gave, and whether it was right."""

    given: str
    correct: bool


class Predicted(Attempt):
    """A prediction: the first answer given (which is what counts), then every later try."""

    attempts: list[Attempt]


class Answered(Attempt):
    """A graded check's item: the latest answer, how many tries, and whether the first was right."""

    tries: int
    first_correct: bool


class Saved(TypedDict, total=False):
    """The progress file's JSON object."""

    version: int
    seed: int
    predictions: dict[str, Predicted]  # by prediction id
    answers: dict[str, Answered]  # by quiz item id


def progress_path() -> Path:
    """Where this learner's progress is kept (see the module docstring)."""
    override = os.environ.get(PROGRESS_ENV)
    if override:
        return Path(override).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "k8snet-lesson" / "progress.json"


@dataclasses.dataclass
class Progress:
    """A learner's predictions and answers; every change is written at once."""

    path: Path
    data: Saved
    warning: str = ""

    @classmethod
    def open(cls, path: Path | str | None = None) -> "Progress":
        path = Path(path) if path is not None else progress_path()
        data: Saved = {}
        warning = ""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or data.get("version") != _VERSION:
                raise ValueError("not a progress file")
        except FileNotFoundError:
            data = {}
        except (OSError, ValueError, UnicodeDecodeError):
            data = {}
            try:
                path.replace(path.with_name(path.name + ".unreadable"))
                warning = f"{path} could not be read; it was kept as {path.name}.unreadable and a new one started"
            except OSError:
                warning = f"{path} could not be read; progress is kept for this session only"
        data.setdefault("version", _VERSION)
        data.setdefault("predictions", {})
        data.setdefault("answers", {})
        progress = cls(path, data, warning)
        if "seed" not in data:
            data["seed"] = random.SystemRandom().randrange(2**31)
            progress.save()
        return progress

    @property
    def seed(self) -> int:
        return int(self.data["seed"])

    def save(self) -> None:
        """Write atomically (a temporary file, then a rename); on failure keep going in memory."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_name(self.path.name + ".tmp")
            temporary.write_text(json.dumps(self.data, indent=1, sort_keys=True), encoding="utf-8")
            temporary.replace(self.path)
        except OSError as exc:
            self.warning = f"progress cannot be saved to {self.path} ({exc.strerror or exc}); it is kept for this session only"

    def _reload(self) -> None:
        """Take in what the file holds now: every gate and notebook of a session opens its own
        Progress on the same file, and a save from a stale copy would drop their records."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError, UnicodeDecodeError):
            return
        if isinstance(data, dict) and data.get("version") == _VERSION:
            for key in ("predictions", "answers"):
                if isinstance(data.get(key), dict):
                    self.data[key] = data[key]

    # --- predictions -----------------------------------------------------------------

    def record_prediction(self, prediction_id: str, given: str, *, correct: bool) -> None:
        """The first call records the prediction; later calls add attempts."""
        self._reload()
        entry = self.data["predictions"].get(prediction_id)
        if entry is None:
            self.data["predictions"][prediction_id] = {"given": given, "correct": correct, "attempts": []}
        else:
            entry["attempts"].append({"given": given, "correct": correct})
        self.save()

    def prediction(self, prediction_id: str) -> Predicted | None:
        return self.data["predictions"].get(prediction_id)

    def predictions(self) -> dict[str, Predicted]:
        return dict(self.data["predictions"])

    # --- quiz answers ------------------------------------------------------------------

    def record_answer(self, item_id: str, given: str, *, correct: bool) -> None:
        self._reload()
        previous = self.data["answers"].get(item_id, {})
        tries = int(previous.get("tries", 0)) + 1
        first = previous.get("first_correct", correct) if previous else correct
        self.data["answers"][item_id] = {"given": given, "correct": correct, "tries": tries, "first_correct": first}
        self.save()

    def answer(self, item_id: str) -> Answered | None:
        return self.data["answers"].get(item_id)

    def answers(self) -> dict[str, Answered]:
        return dict(self.data["answers"])

    def reset(self) -> None:
        """Forget every prediction and answer (the seed stays)."""
        self.data["predictions"] = {}
        self.data["answers"] = {}
        self.save()
