"""The kernel lab: the model's cluster built from real network namespaces, veths,
bridges, VXLAN, iptables and DNS, to show and measure that the model agrees with Linux.

Safety is structural: the whole lab lives inside one child process's private mount,
PID and network namespaces (:mod:`~k8snet_lesson.lab.sandbox`), so it cannot touch
the host's links, addresses, routes, sysctls or firewall, and the kernel removes all of
it when that process ends, even after ``kill -9``. Without root it runs in a user
namespace of its own where the kernel allows that.

The modules: :mod:`~.topology` (the plan, pure), :mod:`~.sandbox` (the child process),
:mod:`~.programs` (what runs inside: init, pod apps, clients, capture), :mod:`~.kernel`
(:func:`build`, :class:`Lab`: the cluster in the kernel and its changes), :mod:`~.dns`,
:mod:`~.checks` (devices, the four rules, the spread), :mod:`~.ladder` (real tools on
the model's faults), :mod:`~.capture` (VXLAN on the wire), :mod:`~.run` (a full run and
its report), :mod:`~.state` (a lab left running by ``k8snet netlab up``), :mod:`~.probe`,
:mod:`~.commands` (the command box: one real command a learner types, checked against a
fixed set and run without a shell) and :mod:`~.steps` (notebook 08's guided steps and
their checks against the lab's real state).

    >>> from k8snet_lesson.lab import probe           # doctest: +SKIP
    >>> probe()                                        # doctest: +SKIP
    Probe(ok=True, reason='')
"""

from .kernel import DEFAULT_TTL, App, Backend, Lab, Teardown, build
from .probe import Probe, probe
from .sandbox import LabCommandError, Sandbox
from .topology import Topology, plan

__all__ = [
    "DEFAULT_TTL",
    "App",
    "Backend",
    "Lab",
    "LabCommandError",
    "Probe",
    "Sandbox",
    "Teardown",
    "Topology",
    "build",
    "plan",
    "probe",
]
