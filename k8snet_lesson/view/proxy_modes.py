"""One Service in both of kube-proxy's modes on screen: iptables rules or nftables lines.

- :func:`rules_text`: what kube-proxy writes for a Service on a node, in either mode
  (iptables-restore lines of its KUBE-SVC chain, or the nftables transaction lines that
  belong to it); the readiness explorer switches between them;
- :func:`draw_reveal`: the ``05-nftables-draw`` gate's reveal, the Service's nftables chain;
- :func:`service_listing`: the ``service-ips`` element and the Service's chain, apart;
- :func:`spread_figures`: the same seeded spread plot from both modes;
- :func:`ruleset_view`: the kernel's ``nft list ruleset`` for a node's transaction, the
  first lines shown and the rest folded; where the lab cannot run, the model's
  transaction and why. Given a Service, the lines shown are the ``service-ips`` map and
  the Service's chain.
"""

from __future__ import annotations

import html
import subprocess
from typing import TYPE_CHECKING, Callable

from ..errors import K8snetError

if TYPE_CHECKING:  # pragma: no cover - names for the annotations only; these load on first use
    from matplotlib.figure import Figure

    from ..cluster import Cluster, Service
    from .services import Panel

__all__ = ["MODES", "rules_text", "draw_reveal", "service_listing", "spread_figures", "RulesetView", "ruleset_view"]

MODES = ("iptables", "nftables")
LINES = 25


def _nft_lines(cluster: Cluster, service: Service, node_name: str) -> list[str]:
    from ..nftables.generate import rules_for
    from ..nftables.lesson import service_lines

    return service_lines(rules_for(cluster, node_name), service.key)


def rules_text(cluster: Cluster, service: Service, node_name: str, mode: str = "iptables") -> str:
    """kube-proxy's rules for ``service`` on ``node_name`` in ``mode`` (iptables or nftables)."""
    from ..errors import InvalidValue
    from .services import chain_text

    if mode == "iptables":
        return chain_text(cluster, service, node_name)
    if mode == "nftables":
        return "\n".join(_nft_lines(cluster, service, node_name))
    raise InvalidValue(f"proxy mode {mode!r} must be one of: {', '.join(MODES)}")


def service_listing(cluster: Cluster, service: Service, node_name: str) -> tuple[str, str]:
    """``(service-ips element, the Service's chain)``: what one map lookup finds, and where it goes."""
    lines = _nft_lines(cluster, service, node_name)
    element = [line for line in lines if line.startswith("add element ") and " service-ips " in line]
    chain = [line for line in lines if line.startswith(("add chain ", "add rule "))
             and line.split(" ", 5)[4].startswith("service-")]
    return "\n".join(element), "\n".join(chain)


def draw_reveal(cluster: Cluster, service: Service, node_name: str) -> Callable[[], Panel]:
    """The Service's ``numgen`` draw on ``node_name`` as a table (each number drawn, the
    endpoint chain it goes to, its share), as a gate's reveal."""
    from ..nftables.generate import numgen_shares, rules_for, service_ips
    from .services import Panel
    from .tables import table

    def reveal() -> Panel:
        tx = rules_for(cluster, node_name)
        port = service.ports[0]
        chain = service_ips(tx)[f"{service.cluster_ip} . {port.protocol.lower()} . {port.port}"]
        shares = numgen_shares(tx)[chain.split("goto", 1)[-1].strip()]
        rows = [{"numgen random mod %d gives" % len(shares): value, "endpoint chain (its hash)": target.split("-", 2)[1],
                 "endpoint": target.rsplit("__", 1)[-1].replace("/", ":"), "share of new connections": str(share)}
                for value, (target, share) in enumerate(shares.items())]
        return Panel((table(rows, caption=f"{service.name} on {node_name} (lesson's cluster), nftables mode: "
                                          "one draw per new connection"),))
    return reveal


def spread_figures(cluster: Cluster, service: Service, node_name: str, connections: int, *,
                   seed: int) -> list[Figure]:
    """``connections`` new connections to ``service`` simulated in each mode (seed ``seed``):
    iptables through the KUBE-SVC chain's rules, nftables through one ``numgen`` draw."""
    from .. import simulate
    from ..nftables import lesson
    from .plots import spread_figure
    from .services import lesson_spread

    ipt = lesson_spread(cluster, service, node_name, connections, seed=seed)
    nft = lesson.shares_in_both_modes(cluster, node_name, service.key)["nftables"]
    nft_shares = [float(share) for _, share in nft]
    nft_counts = lesson.simulate_numgen(len(nft), connections, seed=seed)
    subject = f"{service.name} (lesson's cluster)"
    return [spread_figure(ipt.counts, ipt.shares, labels=ipt.labels, p_value=ipt.chi_square.p_value, seed=seed,
                          subject=f"{subject}, iptables mode: 1/3, 1/2, 1 rules",
                          xlabel="endpoint (KUBE-SEP chain)"),
            spread_figure(nft_counts, nft_shares, labels=[str(e) for e, _ in nft],
                          p_value=simulate.chi_square(nft_counts, nft_shares).p_value, seed=seed,
                          subject=f"{subject}, nftables mode: numgen random mod {len(nft)}",
                          xlabel="endpoint (endpoint-... chain)")]


_PRE = ("tab-size:4;-moz-tab-size:4;white-space:pre-wrap;word-break:normal;overflow-wrap:anywhere;font-size:12px;line-height:1.35;background:#f7f7f7;"
        "border:1px solid #e0e0e0;border-radius:3px;padding:6px 8px;margin:4px 0;max-width:760px")


def _block(lines: list[str], first: int) -> list[str]:
    """The block that opens at ``lines[first]`` (``... {``), through its closing ``}``."""
    indent = lines[first][: len(lines[first]) - len(lines[first].lstrip())]
    for last in range(first + 1, len(lines)):
        if lines[last] == indent + "}":
            return lines[first:last + 1]
    return lines[first:]


class RulesetView:
    """A heading, at most :data:`LINES` lines of a listing, and the whole listing folded.

    With ``service`` (``namespace/name``), the lines shown are the ``service-ips`` map and
    that Service's chain, where the listing has them; otherwise its first lines."""

    def __init__(self, heading: str, text: str, service: str | None = None) -> None:
        self.heading = heading
        self.lines = text.rstrip("\n").split("\n")
        shown: list[str] = []
        if service:
            for i, line in enumerate(self.lines):
                words = line.split()
                if words[:2] == ["map", "service-ips"] or (
                        words[:1] == ["chain"] and len(words) > 1 and words[1].startswith("service-")
                        and f"-{service}/" in words[1]):
                    shown += (["\t..."] if shown else []) + _block(self.lines, i)
                elif words[:1] == ["add"] and len(words) > 4 and (words[4] == "service-ips" or (
                        words[4].startswith("service-") and f"-{service}/" in words[4])):
                    shown.append(line)  # a transaction, as nft -f reads it
        self.shown = (shown or self.lines)[:LINES]

    def _repr_html_(self) -> str:
        out = [f'<div class="k8snet-ruleset" style="max-width:760px"><div>{html.escape(self.heading)}</div>',
               f'<pre style="{_PRE}">{html.escape(chr(10).join(self.shown))}</pre>']
        if len(self.shown) < len(self.lines):
            out.append(f'<details class="k8snet-more"><summary style="cursor:pointer;color:#1565c0">Show all '
                       f'{len(self.lines)} lines</summary><pre style="{_PRE}">{html.escape(chr(10).join(self.lines))}'
                       '</pre></details>')
        return "".join(out) + "</div>"

    def __repr__(self) -> str:
        folded = [f"(all {len(self.lines)} lines folded below)"] if len(self.shown) < len(self.lines) else []
        return "\n".join([self.heading, *self.shown, *folded])


def ruleset_view(cluster: Cluster, node_name: str, *, lab_ok: bool, reason: str | None = None,
                 service: str | None = None) -> RulesetView:
    """The kernel's ``nft list ruleset`` once kube-proxy's nftables transaction for
    ``node_name`` is loaded (in a private namespace of the lab); where the lab cannot run,
    or the load fails, the transaction the kernel would be given, and why."""
    from ..nftables.generate import rules_for

    tx = rules_for(cluster, node_name)
    why = reason or "the kernel lab is not running"
    if lab_ok:
        from ..lab.nft_mode import load_in_private_namespace

        try:
            loaded = load_in_private_namespace(tx)
        except (K8snetError, OSError, subprocess.SubprocessError) as exc:
            why = f"nft could not load the transaction: {exc}"
        else:
            return RulesetView(f"{node_name}# nft list ruleset   ({loaded.version}; kube-proxy in nftables mode)",
                               loaded.listing, service)
    return RulesetView(f"The kernel lab cannot show nft list ruleset here ({why}). This is the transaction "
                       f"kube-proxy would load on {node_name} with nft -f; the kernel prints the same objects "
                       f"back as nested table {{ chain {{ ... }} }} blocks.", str(tx), service)
