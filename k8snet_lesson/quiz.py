"""The lesson's practice questions and quiz, and variants drawn from the model.

The lesson's six questions live in ``data/quiz.yaml`` with an explanation for every
choice. Variants ("with 4 endpoints, what is rule 2's probability?") are generated
from a seed, and their answers come from the model itself: the probability and the
share are read from the rules kube-proxy would write
(:func:`k8snet_lesson.distribution.service_chain`), capacities from :func:`k8snet_lesson.ipam.plan`.
A checker never compares against a string typed into a notebook.

    >>> q = question("practice-1")
    >>> check(q, "kube-proxy").correct
    True
    >>> check(q, "kubelet").correct
    False
"""

from __future__ import annotations

import dataclasses
import functools
import random

from .errors import InvalidValue, NotFound
from .resources import data_path

__all__ = [
    "Choice",
    "Question",
    "Feedback",
    "questions",
    "question",
    "check",
    "VARIANT_KINDS",
    "variant",
]


@dataclasses.dataclass(frozen=True)
class Choice:
    text: str
    correct: bool
    explanation: str


@dataclasses.dataclass(frozen=True)
class Question:
    """A multiple-choice question: exactly one choice is correct."""

    id: str
    kind: str  # "practice", "quiz" or "variant"
    prompt: str
    choices: tuple[Choice, ...]
    section: str = ""

    @property
    def answer(self) -> Choice:
        return next(c for c in self.choices if c.correct)

    def choice(self, text: str) -> Choice:
        for candidate in self.choices:
            if candidate.text == text:
                return candidate
        raise NotFound(f"{text!r} is not a choice of question {self.id} (choices: {[c.text for c in self.choices]})")


@dataclasses.dataclass(frozen=True)
class Feedback:
    """What a learner is told after answering: right or wrong, and why."""

    correct: bool
    chosen: str
    explanation: str
    answer: str

    @property
    def headline(self) -> str:
        return "Correct" if self.correct else "Not quite"

    def __str__(self) -> str:
        text = f"{self.headline}: {self.explanation}"
        if not self.correct:
            text += f" (The answer: {self.answer}.)"
        return text


@functools.lru_cache(maxsize=1)
def questions() -> tuple[Question, ...]:
    """The lesson's three practice questions and three quiz questions, in order."""
    import yaml

    path = data_path("quiz.yaml")
    with open(path, encoding="utf-8") as stream:
        document = yaml.safe_load(stream)
    out = []
    for item in document["questions"]:
        choices = tuple(
            Choice(text=str(c["text"]).strip(), correct=bool(c.get("correct", False)), explanation=str(c["explanation"]).strip())
            for c in item["choices"]
        )
        if sum(c.correct for c in choices) != 1:
            raise InvalidValue(f"{path}: question {item['id']} must have exactly one correct choice")
        out.append(Question(item["id"], item["kind"], str(item["prompt"]).strip(), choices, item.get("section", "")))
    return tuple(out)


def question(question_id: str) -> Question:
    for q in questions():
        if q.id == question_id:
            return q
    raise NotFound(f"no question {question_id!r} (questions: {', '.join(q.id for q in questions())})")


def check(q: Question, chosen: str | None) -> Feedback:
    """Check a chosen answer's text; ``None`` (nothing chosen yet) is an error to show."""
    if chosen is None:
        raise InvalidValue("choose an answer first")
    picked = q.choice(chosen)
    return Feedback(picked.correct, picked.text, picked.explanation, q.answer.text)


# --- variants drawn from the model -------------------------------------------

def _probability_variant(rng: random.Random) -> Question:
    n = rng.randint(2, 8)
    k = rng.randint(1, n)
    from .distribution import service_chain

    explanation = service_chain(n)
    endpoint = explanation.endpoints[k - 1]
    printed = endpoint.probability_text or "none: the last rule always matches"
    naive = f"{1 / n:.10f}"
    wrong_pool = [naive, f"{k / n:.10f}", f"{1 / (n - k + 2):.10f}" if n - k + 2 > 0 else None,
                  "none: the last rule always matches", f"{1 / (n - k + 1):.10f}"]
    distractors = []
    for text in wrong_pool:
        if text and text != printed and text not in distractors:
            distractors.append(text)
    distractors = distractors[:3]
    why = (f"Rule {k} of {n} is tried only by connections that rules 1..{k - 1} let pass; kube-proxy gives it "
           f"1/({n}-{k - 1}) = 1/{n - k + 1}, printed %0.10f, so every endpoint ends with the same share "
           f"1/{n} = {endpoint.share:.4f}.")
    if endpoint.probability_text is None:
        why = f"The last rule of the chain has no statistic match: whatever reaches it, it takes (share 1/{n})."
    choices = [Choice(printed, True, why)]
    for text in distractors:
        if text == naive:
            reason = (f"1/{n} on every rule is the naive chain: rule 1 would take 1/{n}, and each later rule a "
                      "shrinking share of what is left, so the last endpoint gets far more than the first.")
        elif text.startswith("none"):
            reason = "Only the last rule has no probability; this is not the last rule."
        else:
            reason = f"That is not 1/(n - i) for i = {k - 1} previous rules; the share would not come out 1/{n}."
        choices.append(Choice(text, False, reason))
    rng.shuffle(choices)
    prompt = (f"A Service has {n} ready endpoints. What --probability does kube-proxy write on rule {k} "
              "of its KUBE-SVC chain?")
    return Question(f"variant-probability-{n}-{k}", "variant", prompt, tuple(choices), "How kube-proxy Implements Services")


def _capacity_variant(rng: random.Random) -> Question:
    from . import ipam

    prefix = rng.choice([14, 16, 17, 18])
    mask = rng.choice([22, 23, 24, 25, 26])
    cluster_cidr = f"10.{rng.choice([32, 64, 128])}.0.0/{prefix}"
    result = ipam.plan(cluster_cidr=cluster_cidr, node_cidr_mask_size=mask, service_cidr="10.96.0.0/12")
    right = str(result.nodes)
    wrong = {str(2 ** (32 - mask)), str(2 ** (mask - prefix + 1)), str(max(1, 2 ** (mask - prefix - 1))), str(result.total_pods)}
    wrong.discard(right)
    choices = [Choice(right, True, f"A /{prefix} holds 2^({mask}-{prefix}) = {result.nodes} blocks of /{mask}: "
                      "the node IPAM controller gives each node one, so that many nodes fit.")]
    for text in sorted(wrong, key=int)[:3]:
        choices.append(Choice(text, False, f"Count the /{mask} blocks inside the /{prefix}: 2^({mask}-{prefix}) = {result.nodes}."))
    rng.shuffle(choices)
    prompt = (f"kube-controller-manager runs with --cluster-cidr={cluster_cidr} and --node-cidr-mask-size={mask}. "
              "How many nodes can get a pod CIDR?")
    return Question(f"variant-capacity-{prefix}-{mask}", "variant", prompt, tuple(choices), "The Three Network Layers in Every Cluster")


VARIANT_KINDS = {
    "probability": _probability_variant,
    "capacity": _capacity_variant,
}


def variant(kind: str, seed: int) -> Question:
    """A parameterised question whose answer the model computes (deterministic per seed)."""
    try:
        make = VARIANT_KINDS[kind]
    except KeyError:
        raise NotFound(f"no variant kind {kind!r} (kinds: {', '.join(VARIANT_KINDS)})") from None
    return make(random.Random(seed))
