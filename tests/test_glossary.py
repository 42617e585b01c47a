"""The glossary: every term once, a notebook that teaches it, a one-line definition."""

from __future__ import annotations

import html
import re

import pytest

from k8snet_lesson import glossary
from k8snet_lesson.errors import NotFound

# The jargon the course was found to use without defining it; each must be in the glossary.
REQUIRED = ["VTEP", "FDB", "conntrack", "IPAM", "proxy ARP", "ENI", "ipcache", "br_netfilter", "DNAT", "SNAT",
            "MASQUERADE", "KUBE-MARK-MASQ", "EndpointSlice", "chi-square", "host-local", "cni0", "kube-proxy"]


@pytest.mark.parametrize("name", REQUIRED)
def test_the_jargon_is_defined(name):
    entry = glossary.term(name)
    assert re.fullmatch(r"0[0-8]", entry.notebook) and 20 < len(entry.definition) < 200
    assert "\n" not in entry.definition and '"' not in entry.definition


def test_uses_are_found_as_whole_words_and_plurals():
    conntrack = glossary.pattern(glossary.term("conntrack"))
    assert conntrack.search("a conntrack entry") and not conntrack.search("conntracked")
    slices = glossary.pattern(glossary.term("EndpointSlice"))
    assert slices.search("two EndpointSlices") and not slices.search("endpointslice")
    svc = glossary.pattern(glossary.term("KUBE-SVC"))
    assert svc.search("the KUBE-SVC-BDWIX6P63EFORMKP chain")


def test_abbr_carries_the_definition():
    definition = glossary.term("FDB").definition
    assert glossary.abbr("FDB") == f'<abbr title="{html.escape(definition)}">FDB</abbr>'
    with pytest.raises(NotFound, match="no glossary term 'VPN'"):
        glossary.abbr("VPN")
