"""`make test` on a machine with only ``python3`` and ``make``: skips, never failures.

The README promises that the suite runs on a bare Debian machine and skips what
needs the kernel lab's tools, nft or Chromium. This check makes such a machine
without uninstalling anything: a private mount namespace in which every one of
those programs is replaced by a bind mount of ``/dev/null`` (not executable, so
``shutil.which`` no longer finds it). Inside it, the suite runs as the README's test
command runs it (``tests/``, the library's doctests, and notebook 08, the one
notebook that calls the lab), without the fresh-clone and Binder checks, which
build whole new environments and are slow, and without this module (no
recursion: the nested run gets ``K8SNET_BARE_MACHINE=1``).

It expects exit status 0, no failure and no error, and skips whose reasons name
what is missing: the lab's probe reason and the browser's. Where no private mount
namespace can be made (no CAP_SYS_ADMIN and no unprivileged user namespaces),
it skips and says so. The counts it saw are printed (``pytest -s``) and written to
``build/bare-machine-report.txt``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from k8snet_lesson.lab.probe import TOOLS, has_admin_capabilities

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(bool(os.environ.get("K8SNET_BARE_MACHINE")), reason="this is the bare-machine run itself"),
    pytest.mark.skipif(bool(os.environ.get("K8SNET_NESTED")), reason="the outer suite runs the bare-machine check"),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="private mount namespaces need Linux"),
]

CHECKOUT = Path(__file__).resolve().parents[1]
REPORT = CHECKOUT / "build" / "bare-machine-report.txt"
# What a Debian machine with only python3 and make lacks: the lab's tools that do not
# come with Debian's essential packages (util-linux's unshare, nsenter and mount do),
# nft, the optional capture tools, and the browser.
ESSENTIAL = {"unshare", "nsenter", "mount"}
HIDDEN = sorted({*TOOLS, "dig", "nft", "tcpdump", "tshark", "chromium", "node", "npm"} - ESSENTIAL)
# pytest's closing line: "1 failed, 1493 passed, 51 skipped in 60.1s" (framed by "=" without -q).
SUMMARY = re.compile(r"^=* ?(?P<counts>\d+ \w+(?:, \d+ \w+)*) in [\d.]+s\b", re.M)


def hidden_paths() -> list[str]:
    """The real files behind every hidden program found on this machine (symlinks resolved)."""
    found = {os.path.realpath(path) for name in HIDDEN if (path := shutil.which(name))}
    if os.path.exists("/usr/bin/chromium"):
        found.add(os.path.realpath("/usr/bin/chromium"))
    return sorted(found)


def namespace_argv() -> list[str] | None:
    """``unshare`` arguments for a private mount namespace, or None where none can be made."""
    if shutil.which("unshare") is None:
        return None
    for argv in (["unshare", "--mount"], ["unshare", "--user", "--map-root-user", "--mount"]):
        if argv == ["unshare", "--mount"] and not has_admin_capabilities():
            continue
        if subprocess.run([*argv, "true"], capture_output=True, timeout=30).returncode == 0:
            return argv
    return None


def counts(output: str) -> dict[str, int]:
    """pytest's last summary line as numbers.

    >>> counts("==== 1 failed, 1493 passed, 51 skipped in 60.1s ====")
    {'failed': 1, 'passed': 1493, 'skipped': 51}
    >>> counts("82 passed, 1 skipped in 2.68s")
    {'passed': 82, 'skipped': 1}
    """
    found = SUMMARY.findall(output)
    if not found:
        return {}
    return {word: int(number) for number, word in re.findall(r"(\d+) (\w+)", found[-1])}


def test_the_suite_on_a_bare_machine_skips_and_never_fails(tmp_path):
    argv = namespace_argv()
    if argv is None:
        pytest.skip("no private mount namespace can be made here (needs CAP_SYS_ADMIN or user namespaces)")
    hide = " ".join(f"mount --bind /dev/null '{path}' &&" for path in hidden_paths())
    python = sys.executable
    pytest_args = "-q -p no:cacheprovider -rs"
    script = f"""
        {hide} true || exit 97
        cd '{CHECKOUT}'
        '{python}' -m pytest {pytest_args} tests \\
            --ignore=tests/test_fresh_clone.py --ignore=tests/test_binder.py --ignore=tests/test_bare_machine.py
        a=$?
        '{python}' -m pytest {pytest_args} --doctest-modules k8snet_lesson
        b=$?
        '{python}' -m pytest {pytest_args} --nbval-lax --nbval-current-env notebooks/08_kernel_lab.ipynb
        c=$?
        echo "exit statuses: $a $b $c"
        [ $a = 0 ] && [ $b = 0 ] && [ $c = 0 ]
    """
    env = {**os.environ, "K8SNET_BARE_MACHINE": "1", "TMPDIR": str(tmp_path)}
    done = subprocess.run([*argv, "sh", "-c", script], capture_output=True, text=True, env=env, timeout=40 * 60)
    output = done.stdout + done.stderr
    assert done.returncode != 97, f"the programs could not be hidden:\n{output[-3000:]}"

    runs = [counts(match.group(0)) for match in SUMMARY.finditer(output)]
    total = {key: sum(run.get(key, 0) for run in runs) for key in ("passed", "skipped", "failed", "error", "errors")}
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(f"hidden: {', '.join(hidden_paths())}\nruns: {runs}\ntotal: {total}\n")
    print(f"\nbare machine: {total}")

    assert done.returncode == 0, output[-6000:]
    assert len(runs) == 3 and total["failed"] == 0 and total["error"] + total["errors"] == 0, output[-6000:]
    assert total["skipped"] > 0, "nothing skipped: the programs were not hidden"
    # Hidden or never installed, the programs are missing in there: the skips must say so.
    assert "kernel lab unavailable: tools not installed:" in output, output[-3000:]
    assert "no Chromium at /usr/bin/chromium" in output, output[-3000:]
