"""Tables, a figure and widgets for notebook 06: the debugging ladder.

Everything here renders what :mod:`k8snet_lesson.ladder` climbs, :mod:`k8snet_lesson.faults`
breaks and :mod:`k8snet_lesson.netshoot` prints; it computes nothing about networking
itself. It adds the learner's side of the lesson's runbook:

* :func:`kubectl_run` is the ``kubectl run debug-pod --image=nicolaka/netshoot --rm -it
  --restart=Never`` line and what kubectl prints before the shell's prompt;
* :func:`ladder_table`, :func:`rungs_table` and :func:`fault_table` put the runbook, one
  climb, and every registered fault (found broken, passing fixed, on each CNI) in tables;
* :func:`draws_table`, :func:`refusal_table` and :func:`refusals_figure` show why the
  lesson's ClusterIP request answers ``200 OK`` while one endpoint's Pod IP refuses:
  kube-proxy draws an endpoint per connection, so with k of n endpoints broken about k
  in n requests through the Service fail;
* :func:`search_table` lists the names a pod's resolver tries (``ndots:5`` and the
  search list) and what CoreDNS answered each;
* three widgets (:func:`climb_explorer`, :func:`mystery_exercise`, :func:`dns_explorer`),
  each a dataclass of controls with a ``render_*`` callback that tests drive without a
  browser; input that makes no sense shows a message (``k8snet-message``), never a
  traceback.

The mystery exercise hides the climb's finding and notes (they name the fault) and shows
only what the tools printed. Its verdict comes from :func:`k8snet_lesson.ladder.check_diagnosis`;
a wrong name is explained with the model's evidence: the climb of the healthy cluster
broken by that fault alone, compared rung by rung with the mystery's climb
(:func:`not_the_fault`).

    >>> run = kubectl_run("production")
    >>> print(run.transcript)
    $ kubectl run debug-pod --image=nicolaka/netshoot --rm -it --restart=Never -n production
    If you don't see a command prompt, try pressing enter.
"""

from __future__ import annotations

import dataclasses
import html
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from ..cluster import Cluster, Pod, Service
from ..dns import Rcode
from ..errors import InvalidValue, K8snetError
from ..faults import FAULTS, Layer, fault, inject, targets
from ..ladder import Climb, Mystery, Rung, Verdict, check_diagnosis, climb, layer_label, mystery
from ..netshoot import NETSHOOT_IMAGE, RESOLVER, RESOLVER_TIMEOUT_S, Output, curl, debug_pod, nslookup
from .gates import sentence
from .widgets import Shown
from .widgets import message_html as _message_html

if TYPE_CHECKING:  # pragma: no cover - names for the annotations only; these load on first use
    from ipaddress import IPv4Address
    from types import ModuleType

    import ipywidgets
    from matplotlib.figure import Figure
    from pandas import DataFrame

    from ..dns import Resolution
    from .tables import Table

__all__ = [
    "kubectl_run",
    "MEANINGS",
    "ladder_table",
    "rungs_table",
    "climbs_table",
    "fault_table",
    "fault_summary",
    "first_broken",
    "describe_excerpt",
    "grep",
    "DESCRIBE_LINES",
    "curl_result",
    "climb_text",
    "climb_html",
    "draws_table",
    "refusal_table",
    "refusals_figure",
    "search_table",
    "observed",
    "not_the_fault",
    "verdict_text",
    "ClimbExplorer",
    "climb_explorer",
    "render_climb",
    "MysteryExercise",
    "mystery_exercise",
    "render_mystery",
    "render_verdict",
    "DnsExplorer",
    "dns_explorer",
    "render_dns",
    "Shown06",
    "reveal",
]

#: What a broken rung means, in the lesson's words ("What just happened?"), per layer.
MEANINGS: dict[Layer, str] = {
    Layer.DNS: "DNS fails: CoreDNS is down or misconfigured (kube-dns has no ready endpoints)",
    Layer.SERVICE: "DNS works but the ClusterIP fails: kube-proxy (rules not synced on the client's node), "
                   "or no endpoints",
    Layer.ENDPOINTS: "no ready endpoints: the selector matches no pod, or the pods fail their readiness probes",
    Layer.POD_IP: "the pod IP fails from this client while the app listens: a NetworkPolicy drops it, "
                  "or kube-proxy catches the address",
    Layer.APP: "the ClusterIP (sometimes) works but the pod IP fails: application-level "
               "(wrong port, not bound to 0.0.0.0)",
}

_OK, _BROKEN = "#1b5e20", "#b00020"
_INK = "#222222"
_TABLE_STYLE = "border-collapse:collapse;margin:4px 0"
_CELL_STYLE = "padding:1px 8px;text-align:left;vertical-align:top;border-bottom:1px solid #ddd"
_CELL = f' style="{_CELL_STYLE}"'


def _pandas() -> ModuleType:
    import pandas as pd

    return pd


# --- the debug pod ----------------------------------------------------------------------------


def kubectl_run(namespace: str = "default", name: str = "debug-pod", image: str = NETSHOOT_IMAGE) -> Output:
    """``kubectl run NAME --image=IMAGE --rm -it --restart=Never -n NAMESPACE``, as a terminal shows it.

    With ``-it`` kubectl attaches to the container and prints its hint before the
    container's shell prompt appears; ``--rm`` deletes the pod when the shell exits.
    """
    command = f"kubectl run {name} --image={image} --rm -it --restart=Never -n {namespace}"
    return Output(command, "If you don't see a command prompt, try pressing enter.", 0, prompt="$ ")


# --- tables -----------------------------------------------------------------------------------


def ladder_table(result: Climb) -> DataFrame:
    """The runbook as a table: each rung of ``result``, the commands it ran, what a failure
    there means, and the registered faults of that layer.

    Pass a climb that reaches every rung (one with a backend that refuses) to see the
    whole ladder.
    """
    pd = _pandas()
    rows = []
    for rung in result.rungs:
        commands = list(dict.fromkeys(o.command for o in rung.outputs))
        rows.append({
            "rung": rung.name,
            "commands": "; ".join(commands),
            "if it fails": MEANINGS[rung.layer],
            "faults of this layer": ", ".join(n for n, f in FAULTS.items() if f.layer is rung.layer) or "-",
        })
    return pd.DataFrame(rows, index=pd.RangeIndex(1, len(rows) + 1, name="#"))


def rungs_table(result: Climb) -> DataFrame:
    """One row per rung of ``result``: its layer, ok or BROKEN, and what it showed."""
    pd = _pandas()
    rows = [
        {"rung": r.name, "layer": layer_label(r.layer, result.cni), "result": "ok" if r.passed else "BROKEN",
         "what it showed": r.summary}
        for r in result.rungs
    ]
    return pd.DataFrame(rows, index=pd.RangeIndex(1, len(rows) + 1, name="#"))


def climbs_table(climbs: dict[str, Climb]) -> DataFrame:
    """Several climbs side by side (one column each, keyed by label): each rung's result,
    rungs in ladder order, ``not reached`` where a climb stopped before the rung."""
    pd = _pandas()
    order: list[str] = []
    for result in climbs.values():
        order += [r.name for r in result.rungs if r.name not in order]
    columns = {}
    for label, result in climbs.items():
        by_name = {r.name: ("ok" if r.passed else "BROKEN") for r in result.rungs}
        columns[label] = [by_name.get(name, "not reached") for name in order]
    return pd.DataFrame(columns, index=pd.Index(order, name="rung"))


def curl_result(output: Output) -> str:
    """curl's outcome in a few words: ``200 OK``, ``Connection refused``, ``Could not resolve host``..."""
    if output.ok:
        return "200 OK"
    if output.connection is not None:
        return output.connection.outcome.value
    return output.text.splitlines()[0].removeprefix("* ")


def _outcome(result: Climb) -> str:
    """The finding's fault and the rungs that broke on the way (``every rung passes`` when none)."""
    if result.finding is None:
        return "every rung passes"
    broken = ", ".join(r.name for r in result.rungs if not r.passed)
    return f"{result.finding.fault_name or 'no registered fault'} (broken: {broken})"


def fault_table(
    cluster: Cluster,
    *,
    client: Pod | str,
    service: Service | str,
    cnis: Sequence[str] = ("calico", "flannel"),
    seed: int = 0,
) -> DataFrame:
    """Every registered fault: its layer, what it breaks, what curl to the ClusterIP prints,
    what the ladder finds on each CNI, and the fix."""
    pd = _pandas()
    target, source = targets(cluster, service, client)
    url = f"http://{target.cluster_ip}:{target.ports[0].port}/health" if target.cluster_ip else None
    rows = {}
    for name, f in FAULTS.items():
        broken = inject(cluster, name, service=target.key, client=source.key)
        row = {"layer": f.layer.value, "what it breaks": f.summary}
        if url is not None:
            row["curl ClusterIP"] = curl_result(curl(broken.cluster, source.key, url, cni=cnis[0], seed=seed))
        for cni in cnis:
            found = climb(broken.cluster, client=source.key, service=target.key, cni=cni, seed=seed)
            row[f"climb on {cni}"] = _outcome(found)
        row["fix"] = f.fix
        rows[name] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "fault"
    return table


def first_broken(result: Climb) -> str:
    """The first rung of ``result`` that broke (``none: every rung passes`` when none did)."""
    return next((r.name for r in result.rungs if not r.passed), "none: every rung passes")


def fault_summary(cluster: Cluster, *, client: Pod | str, service: Service | str, cni: str = "calico",
                  seed: int = 0) -> DataFrame:
    """Every registered fault in a few words: the first rung that breaks and what curl to
    the ClusterIP prints, as a readable table (one row per fault, text left-aligned)."""
    from .tables import table

    target, source = targets(cluster, service, client)
    url = f"http://{target.cluster_ip}:{target.ports[0].port}/health"
    rows = []
    for name in FAULTS:
        broken = inject(cluster, name, service=target.key, client=source.key).cluster
        found = climb(broken, client=source.key, service=target.key, cni=cni, seed=seed)
        rows.append({"fault": name, "first rung to break": first_broken(found),
                     "curl to the ClusterIP": curl_result(curl(broken, source.key, url, cni=cni, seed=seed))})
    return table(rows, caption=f"The lesson's cluster on {cni.capitalize()}, client {source.key}, Service {target.key}")


# What `kubectl describe pod` says that matters on the ladder: the pod's IP, the
# ports it declares, and whether it is Ready.
DESCRIBE_LINES = r"^(IP|Node):|Port:|Ready:|^Events:"


def grep(output: Output, pattern: str = DESCRIBE_LINES) -> Output:
    """``COMMAND | grep -E PATTERN``: the lines of ``output`` that match, as grep prints them."""
    import re

    kept = [line for line in output.text.splitlines() if re.search(pattern, line)]
    return Output(f"{output.command} | grep -E '{pattern}'", "\n".join(kept), 0 if kept else 1, prompt=output.prompt)


def describe_excerpt(cluster: Cluster, pod: Pod | str, pattern: str = DESCRIBE_LINES) -> Output:
    """``kubectl describe pod NAME | grep -E PATTERN``: the lines of the real describe that matter."""
    from ..netshoot import kubectl_describe_pod

    return grep(kubectl_describe_pod(cluster, pod), pattern)


def _shown(output: Output) -> Output:
    """What a climb's transcript shows of ``output``: a describe is cut to the lines that matter."""
    return grep(output) if output.command.startswith("kubectl describe pod") else output


# --- a climb as text and HTML -------------------------------------------------------------


def climb_text(result: Climb, *, reveal: bool = True) -> str:
    """The climb as a report; ``reveal=False`` leaves out the finding and the notes (an exercise)."""
    if reveal:
        return str(result)
    out = [f"Debugging ladder from {result.client} to Service {result.service} (CNI {result.cni})"]
    for i, rung in enumerate(result.rungs, 1):
        out += ["", f"{i}. {rung.name}: {'ok' if rung.passed else 'BROKEN'} - {observed(rung)}", ""]
        out += [o.transcript for o in rung.outputs]
    return "\n".join(out)


def _rung_row(i: int, rung: Rung, reveal: bool) -> str:
    colour = _OK if rung.passed else _BROKEN
    summary = rung.summary if reveal else observed(rung)
    word = "ok" if rung.passed else "BROKEN"
    return (
        f'<tr class="k8snet-rung" data-passed="{str(rung.passed).lower()}"><td{_CELL}>{i}</td>'
        f"<td{_CELL}>{html.escape(rung.name)}</td>"
        f'<td style="{_CELL_STYLE};color:{colour};font-weight:bold">{word}</td><td{_CELL}>{html.escape(summary)}</td></tr>'
    )


def _transcripts_html(result: Climb, *, only_last: bool = False) -> str:
    """Each rung's transcript, collapsible: broken rungs open (or only the last rung, when broken)."""
    parts = []
    for i, rung in enumerate(result.rungs, 1):
        text = "\n".join(_shown(o).transcript for o in rung.outputs)
        shown = (i == len(result.rungs) if only_last else True) and not rung.passed
        opened = " open" if shown else ""
        parts.append(
            f"<details{opened}><summary>{i}. {html.escape(rung.name)}: what the tools printed</summary>"
            f'<pre style="margin:0;font-size:12px;line-height:1.3;white-space:pre">{html.escape(text)}</pre></details>'
        )
    return "".join(parts)


def climb_html(result: Climb, *, reveal: bool = True) -> str:
    """The climb for a widget: a table of rungs, the finding and notes (when ``reveal``), and
    each rung's transcript in a collapsible block (broken rungs open; for an exercise, only
    the last rung, so the climb reads as a short list first)."""
    rows = "".join(_rung_row(i, r, reveal) for i, r in enumerate(result.rungs, 1))
    head = (
        f'<div class="k8snet-climb-summary" data-passed="{str(result.passed).lower()}"><b>From '
        f"{html.escape(result.client)} to {html.escape(result.service)}</b> (CNI {html.escape(result.cni)}, "
        f"seed {result.seed})</div>"
        f'<table class="k8snet-rungs-table" style="{_TABLE_STYLE}"><thead><tr>'
        + "".join(f"<th{_CELL}>{h}</th>" for h in ("#", "rung", "result", "what it showed"))
        + f"</tr></thead><tbody>{rows}</tbody></table>"
    )
    body = ""
    if reveal:
        if result.finding is None:
            body = f'<div class="k8snet-finding" style="color:{_OK}">Every rung passed.</div>'
        else:
            f = result.finding
            evidence = "".join(f"<li>{html.escape(e)}</li>" for e in f.evidence)
            body = (
                f'<div class="k8snet-finding" data-fault="{html.escape(f.fault_name or "")}" style="color:{_BROKEN}">'
                f"<b>Finding: {html.escape(f.layer_label or f.layer.value)}: {html.escape(f.fault_name or 'no registered fault matches')}</b>"
                f'<ul style="color:{_INK}">{evidence}</ul><span style="color:{_INK}">Fix: {html.escape(f.advice)}</span></div>'
            )
        if result.notes:
            body += '<div class="k8snet-notes"><b>Notes</b><ul>' + "".join(
                f"<li>{html.escape(n)}</li>" for n in result.notes) + "</ul></div>"
    return head + body + _transcripts_html(result, only_last=not reveal)


# --- the lesson's oddity: one endpoint of three broken --------------------------------------------


def draws_table(cluster: Cluster, client: Pod | str, url: str, seeds: Iterable[int], *, cni: str | None = None) -> DataFrame:
    """``curl -v URL`` once per seed: the endpoint kube-proxy's draw picked and what curl got."""
    pd = _pandas()
    rows = []
    for seed in seeds:
        shown = curl(cluster, client, url, cni=cni, seed=seed)
        conn = shown.connection
        picked = f"{conn.endpoint[0]}:{conn.endpoint[1]}" if conn is not None and conn.endpoint else "-"
        server = conn.server.name if conn is not None and conn.server is not None else "-"
        rows.append({"seed": seed, "endpoint picked": picked, "pod": server, "curl": curl_result(shown),
                     "exit code": shown.exit_code})
    return pd.DataFrame(rows).set_index("seed")


def refusal_table(
    cluster: Cluster,
    *,
    client: Pod | str,
    service: Service | str,
    fault_name: str = "bound-to-localhost",
    requests: int = 100,
    seed: int = 0,
    cni: str | None = None,
) -> DataFrame:
    """Break 0, 1, ... n backends with ``fault_name`` one pod at a time and send ``requests``
    requests to the ClusterIP: refused requests against the exact share of the broken
    endpoints in kube-proxy's chain (read from the connection's candidates)."""
    pd = _pandas()
    if requests < 1:
        raise InvalidValue(f"requests {requests} must be at least 1")
    target, source = targets(cluster, service, client)
    if target.cluster_ip is None:
        raise InvalidValue(f"service {target.key} is headless: it has no ClusterIP to send requests to")
    url = f"http://{target.cluster_ip}:{target.ports[0].port}/health"
    backends = [p for p in cluster.pods if target.selects(p)]
    rows = []
    current = cluster
    for k in range(len(backends) + 1):
        if k:
            current = inject(current, fault_name, service=target.key, client=source.key, pod=backends[k - 1].name).cluster
        broken = {p.pod_ip for p in backends[:k]}
        refused, exact = 0, 0.0
        for i in range(requests):
            shown = curl(current, source.key, url, cni=cni, seed=seed + i)
            refused += not shown.ok
            if i == 0 and shown.connection is not None:
                exact = sum(share for (address, _, share) in shown.connection.candidates if address in broken)
        rows.append({"broken endpoints": k, "requests": requests, "refused": refused,
                     "refused share": refused / requests, "exact share": exact})
    return pd.DataFrame(rows).set_index("broken endpoints")


def refusals_figure(table: DataFrame, *, title: str | None = None, width: float = 6.5,
                    height: float = 3.4) -> Figure:
    """Observed share of refused requests (bars) against the exact share (markers), per
    number of broken endpoints, from :func:`refusal_table`."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, facecolor="white", edgecolor="white")
    ax = fig.add_subplot(1, 1, 1)
    x = list(table.index)
    ax.bar(x, table["refused share"], color="#d62728", width=0.6, label="refused (simulated requests)")
    ax.scatter(x, table["exact share"], color=_INK, marker="_", s=900, linewidths=2.5, zorder=3,
               label="exact share of broken endpoints")
    ax.set_xticks(x)
    ax.set_xlabel("broken endpoints behind the Service (count)")
    ax.set_ylabel("share of requests refused")
    ax.set_ylim(0, 1.15)
    requests = int(table["requests"].iloc[0]) if len(table) else 0
    ax.set_title(title or f"{requests} requests to the ClusterIP per case: each draws its endpoint", fontsize=10)
    legend = ax.legend(loc="upper left", fontsize=8, frameon=True, markerscale=0.35)
    legend.get_frame().set_facecolor("white")
    for text in legend.get_texts():
        text.set_color(_INK)
    ax.set_facecolor("white")
    for spine in ax.spines.values():
        spine.set_color(_INK)
    ax.tick_params(colors=_INK)
    ax.xaxis.label.set_color(_INK)
    ax.yaxis.label.set_color(_INK)
    ax.title.set_color(_INK)
    fig.tight_layout()
    return fig


# --- DNS ------------------------------------------------------------------------------------


def search_table(resolution: Resolution) -> DataFrame:
    """The names a resolver tried for one lookup, in order, and CoreDNS's answer to each.

    ``resolution`` is a :class:`k8snet_lesson.dns.Resolution`; names after the one that
    answered are never sent.
    """
    pd = _pandas()
    rows = []
    for i, name in enumerate(resolution.candidates):
        if resolution.timed_out:
            # musl gives up the whole search when its first name gets no answer (EAI_AGAIN)
            answer = f"no answer: {RESOLVER} waits {RESOLVER_TIMEOUT_S:g} s, then gives up" if i == 0 else \
                "not sent (the resolver gave up)"
            addresses = "-"
        elif i < len(resolution.answers):
            a = resolution.answers[i]
            answer = a.rcode.value if a.found or a.rcode is not Rcode.NOERROR else "NOERROR, no records (NODATA)"
            addresses = ", ".join(map(str, a.addresses)) or "-"
        else:
            answer, addresses = "not sent (an earlier name answered)", "-"
        rows.append({"query (A)": name, "answer": answer, "addresses": addresses})
    return pd.DataFrame(rows, index=pd.RangeIndex(1, len(rows) + 1, name="#"))


# --- verdicts -------------------------------------------------------------------------------


def _rung_named(result: Climb, name: str) -> Rung | None:
    return next((r for r in result.rungs if r.name == name), None)


def observed(rung: Rung) -> str:
    """What a rung showed, in the words its tools printed.

    The ClusterIP rung's summary gives the model's reason (which rule caught the packet);
    a debugger sees only curl's outcome, so that is what an exercise shows.
    """
    if rung.name == "ClusterIP" and rung.outputs:
        return curl_result(rung.outputs[0])
    return rung.summary


def not_the_fault(seen: Climb, healthy: Cluster, name: str, *, pod: str | None = None) -> str:
    """Why fault ``name`` is not what broke the climb ``seen``, with the model's evidence.

    The healthy cluster is broken by ``name`` alone and climbed the same way; the first
    rung where the two climbs disagree is the evidence. When they break the same rungs,
    the finding's last piece of evidence (what netstat, kubectl or nslookup would show
    with ``name``) is what to compare.
    """
    f = fault(name)
    try:
        alone = inject(healthy, name, service=seen.service, client=seen.client, pod=pod).cluster
    except K8snetError as exc:
        return f"{name} cannot happen here: {exc}."
    reference = climb(alone, client=seen.client, service=seen.service, cni=seen.cni, seed=seen.seed)
    if reference.passed:
        why = f" ({reference.notes[0]})" if reference.notes else ""
        return f"{name} would change nothing on {seen.cni}: every rung would pass{why}."
    for rung in reference.rungs:
        here = _rung_named(seen, rung.name)
        if here is None:
            return (f"{name} would break the {rung.name} rung ({observed(rung)}), but this climb stops before it, "
                    f"at the {seen.rungs[-1].name} rung: what breaks there comes first.")
        if rung.passed != here.passed:
            state = "passed" if here.passed else "broke"
            return (f"with {name} the {rung.name} rung would {'pass' if rung.passed else 'break'} "
                    f"({observed(rung)}), but here it {state} ({observed(here)}).")
    if len(seen.rungs) > len(reference.rungs):
        extra = seen.rungs[len(reference.rungs)]
        return (f"with {name} the climb would stop after the {reference.rungs[-1].name} rung, "
                f"but here it goes on to the {extra.name} rung ({observed(extra)}).")
    evidence = reference.finding.evidence[-1] if reference.finding and reference.finding.evidence else f.summary
    return f"{name} breaks the same rungs, but with it {evidence}. Compare with what the tools printed here."


def _fix_sentence(names: Sequence[str]) -> str:
    return " ".join(f"Fix for {n}: {FAULTS[n].fix}." for n in names)


def verdict_text(m: Mystery, verdict: Verdict, seen: Climb | None = None) -> str:
    """The verdict in words: ``Correct: ...`` with the fix, or ``Not quite: ...`` explaining
    each wrong name with the model's evidence (``seen``: the mystery's climb)."""
    seen = seen or m.climb()
    if verdict.correct:
        named = ", ".join(verdict.found)
        text = f"Correct: {named}. " + " ".join(f"{n}: {FAULTS[n].summary}." for n in verdict.found)
        text += " " + _fix_sentence(verdict.found)
        text += (" With the fix the climb passes every rung." if verdict.fixed_passes
                 else " The fixed cluster still fails the ladder: it was not healthy to begin with.")
        return text
    parts = []
    if verdict.found:
        parts.append(f"Right so far: {', '.join(verdict.found)} (fixed in the climb above). "
                     + _fix_sentence(verdict.found))
    for name in verdict.wrong:
        parts.append(f"Not the fault here: {not_the_fault(seen, m.broken.healthy, name, pod=m.broken.pod)}")
    if verdict.missed:
        left = len(verdict.missed)
        parts.append(f"{left} fault{'s' if left != 1 else ''} still hidden: climb again, rung by rung.")
    return "Not quite. " + " ".join(parts)


# --- widgets: climb on a broken cluster ---------------------------------------------------------


@dataclasses.dataclass
class ClimbExplorer(Shown):
    """Faults, a backend, a CNI and a seed in; the climb's rungs, finding and transcripts out."""

    cluster: Cluster
    client: str
    service: str
    faults: ipywidgets.SelectMultiple
    backend: ipywidgets.Dropdown
    cni: ipywidgets.Dropdown
    seed: ipywidgets.BoundedIntText
    button: ipywidgets.Button
    rungs: ipywidgets.HTML
    message: ipywidgets.HTML
    ui: ipywidgets.VBox
    last: Climb | None = None  # the latest climb


def render_climb(explorer: ClimbExplorer) -> None:
    """The Climb button's callback: inject the chosen faults, climb, show (or say why not)."""
    try:
        names = tuple(explorer.faults.value)
        broken = inject(explorer.cluster, names, service=explorer.service, client=explorer.client,
                        pod=explorer.backend.value or None)
        result = climb(broken.cluster, client=explorer.client, service=explorer.service,
                       cni=explorer.cni.value, seed=int(explorer.seed.value))
    except (K8snetError, ValueError, TypeError) as exc:
        hint = ' Choose "every backend" under "break on" to inject it.' if explorer.backend.value else ""
        explorer.message.value = _message_html(sentence(str(exc)) + hint)
        explorer.rungs.value = ""  # a result left under an error reads as the error's result
        explorer.last = None
        return
    explorer.message.value = ""
    injected = ", ".join(names) if names else "none (the healthy cluster)"
    where = f" on {explorer.backend.value} only" if explorer.backend.value and names else ""
    explorer.rungs.value = (f'<div class="k8snet-injected">Faults injected: <b>{html.escape(injected)}</b>'
                            f"{html.escape(where)}</div>" + climb_html(result))
    explorer.last = result


def climb_explorer(cluster: Cluster, *, client: str, service: str, faults: Sequence[str] = (),
                   cni: str | None = None, seed: int = 0) -> ClimbExplorer:
    """Pick faults (and optionally one backend pod), a CNI and a seed; press Climb."""
    import ipywidgets as w

    from ..cni import profiles

    target, source = targets(cluster, service, client)
    style = {"description_width": "80px"}
    fault_box = w.SelectMultiple(options=list(FAULTS), value=tuple(faults), rows=len(FAULTS), description="faults",
                                 style=style, layout=w.Layout(width="330px"))
    pods = [p.name for p in cluster.pods if target.selects(p)]
    backend = w.Dropdown(options=[("every backend", "")] + [(p, p) for p in pods], value="", description="break on",
                         style=style, layout=w.Layout(width="330px"))
    cni_box = w.Dropdown(options=list(profiles()), value=cni or cluster.cni, description="CNI", style=style,
                         layout=w.Layout(width="330px"))
    seed_box = w.BoundedIntText(value=seed, min=0, max=2**31 - 1, description="seed", style=style,
                                layout=w.Layout(width="200px"))
    button = w.Button(description="Climb", button_style="primary", icon="arrow-up")
    rungs = w.HTML()
    message = w.HTML()
    fault_box.add_class("k8snet-faults")
    backend.add_class("k8snet-backend")
    cni_box.add_class("k8snet-cni")
    seed_box.add_class("k8snet-climb-seed")
    button.add_class("k8snet-climb")
    rungs.add_class("k8snet-rungs")
    message.add_class("k8snet-message")
    ui = w.VBox([w.HBox([fault_box, w.VBox([backend, cni_box, seed_box, button])]), message, rungs])
    explorer = ClimbExplorer(cluster, source.key, target.key, fault_box, backend, cni_box, seed_box, button,
                             rungs, message, ui)
    button.on_click(lambda _: render_climb(explorer))
    render_climb(explorer)
    return explorer


# --- widgets: the mystery fault -----------------------------------------------------------------


@dataclasses.dataclass
class MysteryExercise(Shown):
    """A seeded mystery: its climb (finding hidden), a diagnosis, Submit, and the verdict."""

    cluster: Cluster
    client: str
    service: str
    cni: str | None
    seed: ipywidgets.BoundedIntText
    climb: ipywidgets.HTML
    diagnosis: ipywidgets.SelectMultiple
    button: ipywidgets.Button
    verdict: ipywidgets.HTML
    message: ipywidgets.HTML
    ui: ipywidgets.VBox
    mystery: Mystery | None = None  # the current mystery
    seen: Climb | None = None  # its climb, as first shown
    last: Verdict | None = None  # the latest verdict


def _mystery_climb_html(exercise: MysteryExercise, result: Climb, fixed: Sequence[str] = ()) -> str:
    count = exercise.mystery.count
    hidden = f"{count} fault{'s' if count != 1 else ''} hidden"
    if fixed:
        hidden += f"; the climb below has {', '.join(fixed)} fixed"
    return (f'<div class="k8snet-mystery-count" data-count="{count}"><b>Mystery {exercise.mystery.seed}: '
            f"{html.escape(hidden)}.</b> Read the rungs, then name the fault below.</div>"
            + climb_html(result, reveal=False))


def render_mystery(exercise: MysteryExercise) -> None:
    """The seed's callback: hide a new mystery, show its climb, clear the diagnosis and verdict."""
    try:
        m = mystery(exercise.cluster, int(exercise.seed.value), exercise.client, exercise.service, cni=exercise.cni)
    except (K8snetError, ValueError, TypeError) as exc:
        exercise.message.value = _message_html(sentence(str(exc)))
        exercise.climb.value = exercise.verdict.value = ""
        exercise.mystery = exercise.seen = exercise.last = None
        return
    exercise.message.value = ""
    exercise.mystery = m
    exercise.seen = m.climb()
    exercise.last = None
    exercise.diagnosis.value = ()
    exercise.verdict.value = ""
    exercise.climb.value = _mystery_climb_html(exercise, exercise.seen)


def render_verdict(exercise: MysteryExercise) -> None:
    """The Submit button's callback: check the diagnosis, explain it, and climb again with
    the faults named right fixed."""
    names = tuple(exercise.diagnosis.value)
    if not names:
        exercise.verdict.value = ('<div class="k8snet-verdict-text" data-correct="false">'
                                  "Pick one fault or more from the list, then Submit.</div>")
        return
    m = exercise.mystery
    try:
        verdict = check_diagnosis(m, names)
    except K8snetError as exc:
        exercise.message.value = _message_html(str(exc))
        return
    exercise.last = verdict
    text = verdict_text(m, verdict, exercise.seen)
    colour = _OK if verdict.correct else "#8a4b00"
    exercise.verdict.value = (
        f'<div class="k8snet-verdict-text" data-correct="{str(verdict.correct).lower()}" '
        f'style="color:{colour};max-width:760px">{html.escape(text)}</div>'
    )
    if verdict.found:
        rest = tuple(n for n in m.broken.faults if n not in verdict.found)
        partly = inject(m.broken.healthy, rest, service=m.service, client=m.client, pod=m.broken.pod).cluster
        exercise.climb.value = _mystery_climb_html(exercise, m.climb(partly), verdict.found)
    else:
        exercise.climb.value = _mystery_climb_html(exercise, exercise.seen)


def mystery_exercise(cluster: Cluster, *, client: str, service: str, seed: int = 0,
                     cni: str | None = None) -> MysteryExercise:
    """A mystery fault (seeded) on the way from ``client`` to ``service``: climb, diagnose, submit."""
    import ipywidgets as w

    target, source = targets(cluster, service, client)
    seed_box = w.BoundedIntText(value=seed, min=0, max=2**31 - 1, description="mystery", layout=w.Layout(width="200px"))
    shown = w.HTML()
    diagnosis = w.SelectMultiple(options=list(FAULTS), value=(), rows=len(FAULTS), description="diagnosis",
                                 layout=w.Layout(width="330px"))
    button = w.Button(description="Submit", button_style="primary")
    verdict = w.HTML()
    message = w.HTML()
    seed_box.add_class("k8snet-mystery-seed")
    shown.add_class("k8snet-mystery-climb")
    diagnosis.add_class("k8snet-diagnosis")
    button.add_class("k8snet-submit")
    verdict.add_class("k8snet-mystery-verdict")  # k8snet-verdict is a prediction gate's verdict
    message.add_class("k8snet-message")
    ui = w.VBox([seed_box, message, shown, w.HBox([diagnosis, button]), verdict])
    exercise = MysteryExercise(cluster, source.key, target.key, cni, seed_box, shown, diagnosis, button, verdict,
                               message, ui)
    seed_box.observe(lambda change: render_mystery(exercise), names="value")
    button.on_click(lambda _: render_verdict(exercise))
    render_mystery(exercise)
    if exercise.mystery is None:
        raise InvalidValue(f"no mystery from {source.key} to {target.key}: {exercise.message.value}")
    return exercise


# --- widgets: names and the search list -----------------------------------------------------------


@dataclasses.dataclass
class DnsExplorer(Shown):
    """A name and the client's namespace in; resolv.conf, the queries tried and nslookup out."""

    cluster: Cluster
    name: ipywidgets.Text
    namespace: ipywidgets.Dropdown
    result: ipywidgets.HTML
    message: ipywidgets.HTML
    ui: ipywidgets.VBox
    # namespace -> the cluster with a debug pod there, and that pod
    clients: dict[str, tuple[Cluster, Pod]] = dataclasses.field(default_factory=dict)
    last: Resolution | None = None  # the latest resolution


def _table_html(table: DataFrame, css: str) -> str:
    header = "".join(f"<th{_CELL}>{html.escape(str(c))}</th>" for c in [table.index.name or ""] + list(table.columns))
    body = "".join(
        "<tr>" + f"<td{_CELL}>{html.escape(str(i))}</td>"
        + "".join(f"<td{_CELL}>{html.escape(str(v))}</td>" for v in row) + "</tr>"
        for i, row in zip(table.index, table.itertuples(index=False))
    )
    return f'<table class="{css}" style="{_TABLE_STYLE}"><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>'


def _address_literal(text: str) -> IPv4Address | None:
    """``text`` as an IPv4 address, or None when it is meant as a name."""
    from ipaddress import IPv4Address

    try:
        return IPv4Address(text.strip())
    except ValueError:
        return None


def _reverse_html(cluster: Cluster, pod: Pod, text: str, address: IPv4Address) -> str:
    """An address typed into the DNS explorer: what curl and nslookup really do with it."""
    from ..dns import reverse
    from ..netshoot import nslookup_address, ptr_name

    name = reverse(cluster, address)
    found = f"CoreDNS names it {name}" if name else "CoreDNS has no name for it (NXDOMAIN)"
    shown = nslookup_address(cluster, pod, address)
    return (
        f'<div class="k8snet-dns-verdict" data-ok="true" data-literal="true"><b>{html.escape(text)}</b> is an '
        "address, not a name: no search list applies. <code>curl</code> sends no DNS query at all and connects "
        f"to it; <code>nslookup</code> asks the reverse (PTR) question for <code>{html.escape(ptr_name(address))}</code>: "
        f"{html.escape(found)}.</div>"
        '<pre style="font-size:12px;line-height:1.3">' + html.escape(shown.transcript) + "</pre>"
    )


def render_dns(explorer: DnsExplorer) -> None:
    """The DNS explorer's callback: resolve the name from a debug pod in the namespace.

    An IPv4 address is looked up the way the tools do: no search list, a PTR query for
    nslookup, no query for curl. Anything that is not a DNS name (a space, a label over
    63 characters, over 253 in all) shows a message and clears the last result.
    """
    from ..netshoot import cat_resolv_conf

    namespace = explorer.namespace.value
    text = explorer.name.value
    try:
        if namespace not in explorer.clients:
            explorer.clients[namespace] = debug_pod(explorer.cluster, namespace)
        cluster, pod = explorer.clients[namespace]
        address = _address_literal(text)
        if address is not None:
            explorer.result.value = _reverse_html(cluster, pod, text.strip(), address)
            explorer.message.value = ""
            explorer.last = None
            return
        shown = nslookup(cluster, pod, text)
    except (K8snetError, ValueError) as exc:
        explorer.message.value = _message_html(sentence(str(exc)))
        explorer.result.value = ""  # never leave an earlier name's answer under the message
        explorer.last = None
        return
    explorer.message.value = ""
    resolution = shown.resolution
    sent = len(resolution.answers) or 1
    if resolution.ok:
        verdict = f"resolves to {', '.join(map(str, resolution.addresses))} as {resolution.fqdn}"
    elif resolution.timed_out:
        verdict = f"gets no answer: {RESOLVER} waits {RESOLVER_TIMEOUT_S:g} s and gives up"
    else:
        verdict = "does not resolve"
    explorer.result.value = (
        f'<div class="k8snet-dns-verdict" data-ok="{str(resolution.ok).lower()}"><b>{html.escape(text.strip())}'
        f"</b> from a pod in <b>{html.escape(namespace)}</b> {html.escape(verdict)} "
        f"({sent} name{'' if sent == 1 else 's'} asked for, by netshoot's {RESOLVER} resolver)</div>"
        + _table_html(search_table(resolution), "k8snet-dns-queries")
        + '<pre style="font-size:12px;line-height:1.3">'
        + html.escape(cat_resolv_conf(cluster, pod).transcript + "\n" + shown.transcript) + "</pre>"
    )
    explorer.last = resolution


def dns_explorer(cluster: Cluster, name: str = "checkout-api-svc", namespace: str = "production") -> DnsExplorer:
    """Type a name, pick the namespace the asking pod runs in, and see which names its resolver tries."""
    import ipywidgets as w

    namespaces = sorted({p.namespace for p in cluster.pods} | {s.namespace for s in cluster.services} | {"default"})
    style = {"description_width": "90px"}
    name_box = w.Text(value=name, description="name", continuous_update=False, style=style,
                      layout=w.Layout(width="480px"))
    namespace_box = w.Dropdown(options=namespaces, value=namespace, description="pod in", style=style,
                               layout=w.Layout(width="260px"))
    result = w.HTML()
    message = w.HTML()
    name_box.add_class("k8snet-dns-name")
    namespace_box.add_class("k8snet-dns-namespace")
    result.add_class("k8snet-dns-result")
    message.add_class("k8snet-message")
    ui = w.VBox([w.HBox([name_box, namespace_box]), message, result])
    explorer = DnsExplorer(cluster, name_box, namespace_box, result, message, ui)
    for control in (name_box, namespace_box):
        control.observe(lambda change: render_dns(explorer), names="value")
    render_dns(explorer)
    return explorer


# --- what each gate of notebook 06 reveals ---------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Shown06:
    """A reveal: an optional table and terminal text, as HTML in a notebook and as text elsewhere."""

    text: str = ""
    table: Table | None = None
    note: str = ""

    def _repr_html_(self) -> str:
        parts = []
        if self.note:
            parts.append(f'<div style="max-width:760px;line-height:1.45;margin:4px 0">{html.escape(self.note)}</div>')
        if self.table is not None:
            parts.append(self.table._repr_html_())
        if self.text:
            parts.append('<pre style="font-size:12px;line-height:1.3;margin:4px 0;white-space:pre-wrap;'
                         'word-break:normal;overflow-wrap:anywhere">'
                         f"{html.escape(self.text)}</pre>")
        return "".join(parts)

    def __repr__(self) -> str:
        return "\n\n".join(str(part) for part in (self.note, self.table, self.text) if part is not None and part != "")


def reveal(prediction_id: str, cluster: Cluster, *, client: str = "production/debug-pod",
           service: str = "production/checkout-api-svc") -> Shown06:
    """What notebook 06 shows once the gate ``prediction_id`` is answered, computed from ``cluster``."""
    from .. import iptables, kube_proxy
    from ..dns import resolve
    from ..faults import readiness_probes, with_readiness_probes
    from ..netshoot import kubectl_get_endpoints, resolver_wait
    from ..predictions.ladder import BROKEN_POD, with_client
    from .tables import table

    cluster = with_client(cluster, client)
    target = cluster.service(service)
    url = f"http://{target.cluster_ip}:{target.ports[0].port}/health"
    if prediction_id == "06-names-tried":
        resolution = resolve(cluster, cluster.pod(client), "checkout-api-svc.production")
        return Shown06(table=table(search_table(resolution), caption=f"Names the resolver of {client} tried (musl)"))
    if prediction_id == "06-first-rung":
        stale = inject(cluster, "kube-proxy-stale", service=service, client=client).cluster
        found = climb(stale, client=client, service=service)
        return Shown06(text=str(found.finding), table=table(rungs_table(found), caption="The climb, kube-proxy stale on "
                                                                                        f"{cluster.pod(client).node_name}"))
    if prediction_id == "06-selector-curl":
        broken = inject(cluster, "selector-mismatch", service=service, client=client).cluster
        rules = kube_proxy.rules_of_service(kube_proxy.rules_for(broken, cluster.pod(client).node_name), target.key)
        rejects = [line for line in iptables.to_save(rules).splitlines() if "REJECT" in line]
        return Shown06(text=curl(broken, client, url).transcript + "\n\n"
                       + kubectl_get_endpoints(broken, service).transcript
                       + "\n\n# the rule kube-proxy wrote for it (iptables-save, filter table)\n" + "\n".join(rejects))
    if prediction_id == "06-policy-curl":
        broken = inject(cluster, "network-policy-deny", service=service, client=client).cluster
        pod = broken.pod(BROKEN_POD, target.namespace)
        return Shown06(text=curl(broken, client, f"http://{pod.pod_ip}:3000/health", connect_timeout=5).transcript)
    if prediction_id == "06-coredns-wait":
        down = inject(cluster, "coredns-down", service=service, client=client).cluster
        resolution = resolve(down, down.pod(client), "checkout-api-svc")
        waited = resolver_wait(resolution)
        return Shown06(table=table(search_table(resolution), caption=f"Names {RESOLVER} tried for checkout-api-svc"),
                       note=f"The query met: {resolution.reason}. netshoot's {RESOLVER} waited {waited:g} s; "
                            f"a glibc image would have waited {resolver_wait(resolution, 'glibc'):g} s.")
    if prediction_id == "06-localhost-probe":
        broken = inject(cluster, "bound-to-localhost", service=service, client=client, pod=BROKEN_POD).cluster
        events = [p.event for p in readiness_probes(broken, service) if p.event]
        probed = with_readiness_probes(broken, service)
        return Shown06(text="# kubectl describe pod, Events\n" + "\n".join(events) + "\n\n"
                       + kubectl_get_endpoints(probed, service).transcript)
    raise InvalidValue(f"notebook 06 has no gate {prediction_id!r}")
