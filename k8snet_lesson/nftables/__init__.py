"""kube-proxy in nftables mode (GA since v1.33; the text of the v1.34 cycle).

- :mod:`.generate`: Services and EndpointSlices in, kube-proxy's nftables transaction out
  (:func:`generate`), and a node that syncs again and again (:class:`NodeProxy`: stale
  chains flushed and kept until aged, partial syncs, a start from an existing state).
- :mod:`.parse`: reads that transaction, or ``nft list ruleset`` as the kernel prints it,
  into the same :class:`Transaction`.
"""

from .generate import (
    NodeProxy,
    Transaction,
    chain_name,
    chain_name_base,
    generate,
    normalize,
    numgen_shares,
    rules_for,
    service_ips,
    sloppy_ip,
)

__all__ = [
    "NodeProxy",
    "Transaction",
    "chain_name",
    "chain_name_base",
    "generate",
    "normalize",
    "numgen_shares",
    "rules_for",
    "service_ips",
    "sloppy_ip",
]
