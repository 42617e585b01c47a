"""A kubectl command line run against the model, printed as a terminal shows it.

``run(cluster, "get endpoints checkout-api-svc -n production")`` gives the prompt, the
command, any warning the API server sends (kubectl writes it to stderr, so it comes
before the table) and the output, from :mod:`k8snet_lesson.view.kubectl`.

The warning: since v1.33 the API server marks the v1 Endpoints kind deprecated, and every
request that reads or writes Endpoints gets the warning apiserver's
``deprecation.WarningMessage`` builds ("<group/version> <Kind> is deprecated in
v<major>.<minor>+; use <group/version> <Kind>"); kubectl prints it as
``Warning: <text>``. ``get endpointslices`` draws no warning. An older server
(``server_version=(1, 32)``) sends none.

The commands it knows (anything else is refused with a message that lists them):

- ``get endpoints [NAME] [-n NAMESPACE | -A] [-o yaml]``
- ``describe endpoints NAME [-n NAMESPACE]``
- ``get endpointslices [-n NAMESPACE | -A] [-l kubernetes.io/service-name=NAME]``
- ``get pods [-n NAMESPACE | -A] [-o wide]``

``ep``, ``endpointslice`` and ``po`` are accepted as kubectl accepts them. What it leaves
out: every other flag, and the namespace from a kubeconfig context (``default``).

    >>> from k8snet_lesson import scenarios
    >>> print(run(scenarios.lesson_cluster(), "kubectl get endpoints checkout-api-svc -n production"))
    $ kubectl get endpoints checkout-api-svc -n production
    Warning: v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice
    NAME               ENDPOINTS                                          AGE
    checkout-api-svc   10.244.2.14:3000,10.244.3.7:3000,10.244.4.2:3000   8d
"""

from __future__ import annotations

import shlex

from ..cluster import Cluster
from ..errors import InvalidValue
from . import kubectl

__all__ = ["DEPRECATED_KINDS", "deprecation_warning", "run"]

# Kinds the API server marks deprecated: (group/version, deprecated in (major, minor),
# replacement group/version and kind), from the types' prerelease-lifecycle tags.
DEPRECATED_KINDS = {"Endpoints": ("v1", (1, 33), "discovery.k8s.io/v1 EndpointSlice")}

_RESOURCES = {"endpoints": "Endpoints", "ep": "Endpoints", "endpointslices": "EndpointSlice",
              "endpointslice": "EndpointSlice", "pods": "Pod", "pod": "Pod", "po": "Pod"}
_KNOWN = ("get endpoints [NAME] [-n NAMESPACE] [-o yaml]", "describe endpoints NAME [-n NAMESPACE]",
          "get endpointslices [-n NAMESPACE] [-l kubernetes.io/service-name=NAME]", "get pods [-n NAMESPACE] [-o wide]")


def deprecation_warning(kind: str, server_version: tuple[int, int] = (1, 33)) -> str | None:
    """The ``Warning:`` line kubectl prints when it reads ``kind`` from a server of ``server_version``.

    >>> deprecation_warning("Endpoints", (1, 32)) is None, deprecation_warning("EndpointSlice") is None
    (True, True)
    """
    if kind not in DEPRECATED_KINDS:
        return None
    group_version, since, replacement = DEPRECATED_KINDS[kind]
    if tuple(server_version) < since:
        return None
    return f"Warning: {group_version} {kind} is deprecated in v{since[0]}.{since[1]}+; use {replacement}"


def _refuse(command: str, why: str) -> InvalidValue:
    return InvalidValue(f"kubectl {command}: {why}. Commands this course runs: "
                        + "; ".join(f"kubectl {k}" for k in _KNOWN))


def run(cluster: Cluster, command: str, *, server_version: tuple[int, int] = (1, 33)) -> str:
    """``command`` (with or without the leading ``kubectl``) as a terminal shows it, prompt included."""
    try:
        words = shlex.split(command)
    except ValueError as exc:
        raise InvalidValue(f"kubectl command {command!r} cannot be read: {exc}") from None
    if words[:1] == ["kubectl"]:
        words = words[1:]
    shown = " ".join(words)
    if len(words) < 2 or words[0] not in ("get", "describe") or words[1] not in _RESOURCES:
        raise _refuse(shown, "not a command this course knows")
    verb, kind = words[0], _RESOURCES[words[1]]
    name = namespace = output = label = None
    all_namespaces = False
    rest = words[2:]
    i = 0
    while i < len(rest):
        word = rest[i]
        if word in ("-n", "--namespace", "-o", "--output", "-l", "--selector"):
            if i + 1 >= len(rest):
                raise _refuse(shown, f"{word} needs a value")
            value = rest[i + 1]
            if word in ("-n", "--namespace"):
                namespace = value
            elif word in ("-o", "--output"):
                output = value
            else:
                label = value
            i += 2
            continue
        for flag, slot in (("--namespace=", "n"), ("--output=", "o"), ("--selector=", "l")):
            if word.startswith(flag):
                value = word[len(flag):]
                namespace, output, label = ((value, output, label) if slot == "n" else
                                            (namespace, value, label) if slot == "o" else (namespace, output, value))
                break
        else:
            if word in ("-A", "--all-namespaces"):
                all_namespaces = True
            elif word.startswith("-"):
                raise _refuse(shown, f"the flag {word} is not one this course knows")
            elif name is None:
                name = word
            else:
                raise _refuse(shown, f"one name at most ({name!r}, then {word!r})")
        i += 1
    if all_namespaces and name is not None:
        raise InvalidValue("error: a resource cannot be retrieved by name across all namespaces")
    if not all_namespaces and namespace is None:
        namespace = "default"
    text = _output(cluster, shown, verb, kind, name, None if all_namespaces else namespace, output, label)
    lines = [f"$ kubectl {shown}"]
    warning = deprecation_warning(kind, server_version)
    if warning:
        lines.append(warning)
    lines.append(text.rstrip("\n"))
    return "\n".join(lines)


def _output(cluster: Cluster, shown: str, verb: str, kind: str, name: str | None, namespace: str | None,
            output: str | None, label: str | None) -> str:
    if output not in (None, "yaml", "wide"):
        raise _refuse(shown, f"output format {output!r} is not one this course prints (yaml, wide)")
    if label is not None and kind != "EndpointSlice":
        raise _refuse(shown, "-l is known here only for endpointslices")
    if verb == "describe":
        if kind != "Endpoints" or name is None or output is not None:
            raise _refuse(shown, "describe is known here for one Endpoints object by name")
        return kubectl.describe_endpoints(cluster, name, namespace)
    if kind == "Endpoints":
        if output == "yaml":
            return kubectl.endpoints_yaml(cluster, name, namespace)
        if output == "wide":
            raise _refuse(shown, "-o wide is known here only for pods")
        if name is not None:
            cluster.service(name, namespace)  # NotFound names the Service
        return kubectl.get_endpoints(cluster, namespace, name) or kubectl.no_resources(namespace)
    if kind == "EndpointSlice":
        if output is not None or name is not None:
            raise _refuse(shown, "endpointslices are listed here by label, not by name or -o")
        service = None
        if label is not None:
            key, _, service = label.partition("=")
            if key != "kubernetes.io/service-name" or not service:
                raise _refuse(shown, f"the label selector {label!r} is not kubernetes.io/service-name=NAME")
        return kubectl.get_endpointslices(cluster, namespace, service) or kubectl.no_resources(namespace)
    if name is not None or output == "yaml":
        raise _refuse(shown, "pods are listed here whole, as a table")
    return kubectl.get_pods(cluster, namespace, wide=output == "wide") or kubectl.no_resources(namespace)
