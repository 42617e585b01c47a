"""The save form's words: a rule as ``iptables-save`` prints it, word by word."""

from __future__ import annotations

from ipaddress import IPv4Network

from ._extensions import _MATCHES, Extension, _PROTOCOL_NAMES, _TARGETS, _protocol_number, _Values
from ._shape import _Plan

# --- rendering the save form ---------------------------------------------------------


def _saved_network(value: str) -> str:
    """The kernel's address/prefix: a host gets /32, an address with a mask is masked."""
    if "/" not in value:
        return value + "/32"
    if value.endswith("/32"):
        return value
    network = IPv4Network(value, strict=False)
    return f"{network.network_address}/{network.prefixlen}"


def _save_words(plan: _Plan, args: tuple[str, ...]) -> list[str]:
    out = _match_save_words(plan, args)
    if plan.target is not None:
        out += ["-g" if plan.goto else "-j", args[plan.target]]
        module = plan.target_module
        if module.known:
            out += _saved_options(_TARGETS[module.name], _Values(module, args))
        else:
            out += [args[p] for p in module.words]
    return out


def _match_save_words(plan: _Plan, args: tuple[str, ...], skip: frozenset[str] = frozenset()) -> list[str]:
    """The rule's matches as iptables-save prints them, without the modules in ``skip``."""
    out: list[str] = []
    if plan.src is not None:
        out += (["!"] if plan.src_neg else []) + ["-s", _saved_network(args[plan.src])]
    if plan.dst is not None:
        out += (["!"] if plan.dst_neg else []) + ["-d", _saved_network(args[plan.dst])]
    if plan.iface_in is not None:
        out += (["!"] if plan.iface_in_neg else []) + ["-i", args[plan.iface_in]]
    if plan.iface_out is not None:
        out += (["!"] if plan.iface_out_neg else []) + ["-o", args[plan.iface_out]]
    number = _protocol_number(args[plan.proto]) if plan.proto is not None else 0
    if number:
        out += (["!"] if plan.proto_neg else []) + ["-p", _PROTOCOL_NAMES.get(number, str(number))]
    if plan.fragment is not None:
        out += ["-f"] if plan.fragment else ["!", "-f"]
    for module in plan.matches:
        if module.name in skip:
            continue
        out += ["-m", module.name]
        if module.known:
            out += _saved_options(_MATCHES[module.name], _Values(module, args))
        else:
            out += [args[p] for p in module.words]
    return out


def _saved_options(extension: Extension, values: _Values) -> list[str]:
    """A known extension's options as iptables-save prints them (as written when it has no saver)."""
    if extension.save is not None:
        return extension.save(values)
    out: list[str] = []
    for option, negated, words in values.items():
        out += (["!"] if negated else []) + [option, *words]
    return out
