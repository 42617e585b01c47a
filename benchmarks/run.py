"""Run every benchmark (``make bench``) and print a table of medians against targets.

Each ``benchmarks/bench_*.py`` module defines ``run() -> list[Result]``-shaped tuples:
``(name, value, unit, target)``; ``target`` is a short text such as ``"< 1 s"``.
Benchmarks never fail the build: a slow machine is reported, not punished.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    sys.path.insert(0, str(HERE.parent))
    rows = []
    for path in sorted(HERE.glob("bench_*.py")):
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
            results = module.run()
        except Exception as exc:  # one broken benchmark must not hide the others
            print(f"{path.name}: not measured: {type(exc).__name__}: {exc}", flush=True)
            continue
        for row in results:
            rows.append(row)
            name, value, unit, target = row
            print(f"{name:<64} {value:>12.4g} {unit:<10} target {target}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
