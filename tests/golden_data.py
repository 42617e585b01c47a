"""Where kube-proxy's own expected outputs are: ``$K8SNET_GOLDEN_DIR``, else
``shared/kube-proxy-golden`` beside the checkout, else the workplace's shared folder.
The tests that read them skip, saying so, when none is there."""

from __future__ import annotations

import os
from pathlib import Path


def golden_dir() -> Path | None:
    candidates = []
    if os.environ.get("K8SNET_GOLDEN_DIR"):
        candidates.append(Path(os.environ["K8SNET_GOLDEN_DIR"]))
    candidates.append(Path(__file__).resolve().parents[2] / "shared" / "kube-proxy-golden")
    candidates.append(Path("/work/shared/kube-proxy-golden"))
    return next((p for p in candidates if p.is_dir()), None)


GOLDEN = golden_dir()
SKIP_REASON = ("kube-proxy's golden files are not here: set K8SNET_GOLDEN_DIR or put them in "
               "shared/kube-proxy-golden next to the checkout")
