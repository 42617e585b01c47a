"""k8snet-lesson: a small, exact model of Kubernetes networking, and a course built on it.

The core (values, controllers, analysis) imports with the standard library and numpy
alone; plots, widgets, scapy and YAML are imported at the edges, inside the functions
that need them.
"""

from .errors import (  # noqa: F401
    ExhaustedError,
    InvalidValue,
    K8snetError,
    ManifestError,
    NotFound,
    OverlapError,
    ParseError,
)

__version__ = "0.1.0"
