"""Every discrepancy notebook 00 lists is really resolved where its "shown in" column says.

Notebook 00 lists each place the lesson's numbers disagree with each other or with a
real cluster, and names the notebook that shows the course's resolution. Here each
entry resolved in 00, 01, 02, 05 or 06 is matched (by a phrase of what the lesson says)
to what a learner finds in that notebook as committed: its markdown, its code and its
saved outputs. An entry without evidence here, or evidence a notebook lost, fails.
Entries resolved in 03, 04 and 08 are checked with those notebooks.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from k8snet_lesson.discrepancies import discrepancies

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
CHECKED_HERE = {"00", "01", "02", "05", "06"}

# a phrase of the entry's "lesson" field -> what the resolving notebook must hold
EVIDENCE = {
    "is also the third endpoint": ["checkout-api-6f8b9d-m5t9w   1/1", "auth-service-5c7d8f-p2rkx   1/1"],
    "lists two addresses": ["kind: Endpoints", "ip: 10.244.2.14", "ip: 10.244.3.7", "ip: 10.244.4.2"],
    "notReadyAddresses: [] is printed": ["get endpoints checkout-api-svc -n production -o yaml",
                                         "empty lists out"],
    "prints NAME READY STATUS NODE IP": ["NOMINATED NODE", 'columns="lesson"'],
    "listed checkout, checkout, payment, auth": ["NOMINATED NODE   READINESS GATES\nauth-service-5c7d8f-p2rkx"],
    "gets a new IP after a crash": ["a crash restarts the *container*", '"container restart"'],
    "managed by kube-proxy": ["kube-apiserver gives each Service", "only makes it work"],
    "kube-proxy watches Service and Endpoints changes": ["get endpointslices -n production",
                                                         "Warning: v1 Endpoints is deprecated in v1.33+"],
    "using round-robin": ["3,000 connections", "chi-square"],
    "silently dropped": ["Connection refused", "**Refused** means something answered"],
    "always sees Pod A's real IP": ["KUBE-MARK-MASQ", "05-hairpin-source"],
    "four rules make up the networking model": ["The upstream model has two more rules", "127.0.0.1"],
    "same network namespace as the cluster": ["It is an ordinary pod"],
    "resolves 'the fully-qualified' name": ['"fully qualified"', "trailing dot", "dns_explorer"],
    "'app listening on wrong port'": ["0 127.0.0.1:3000", '"app-wrong-port"'],
    "prints 'Address 1:' lines": ["Address 1:", 'style="bind"'],
}


def _text(notebook: str) -> str:
    """A notebook's markdown, code and saved text outputs, as one string."""
    path = next(NOTEBOOKS.glob(f"{notebook}_*.ipynb"))
    parts = []
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        parts.append("".join(cell["source"]))
        for output in cell.get("outputs", []):
            parts.append("".join(output.get("text", "")))
            for mime in ("text/plain", "text/html"):
                parts.append("".join(output.get("data", {}).get(mime, "")))
    return "\n".join(parts)


ROWS = [row for row in discrepancies() if row.notebook in CHECKED_HERE]


@pytest.mark.parametrize("row", ROWS, ids=[row.lesson[:40] for row in ROWS])
def test_the_named_notebook_shows_the_resolution(row):
    phrases = [phrase for phrase in EVIDENCE if phrase in row.lesson]
    assert len(phrases) == 1, f"no single evidence entry for {row.lesson!r} (matched {phrases})"
    text = _text(row.notebook)
    missing = [needle for needle in EVIDENCE[phrases[0]] if needle not in text]
    assert missing == [], f"notebook {row.notebook} does not show {missing} for {row.lesson!r}"


def test_every_evidence_entry_still_names_a_discrepancy():
    lessons = [row.lesson for row in ROWS]
    assert [p for p in EVIDENCE if not any(p in lesson for lesson in lessons)] == []
