"""Launch links for a class: Binder for everyone, nbgitpuller for a JupyterHub cohort.

    >>> binder_link("acme/k8snet-lesson", "v1.0", "notebooks/05_services_and_kube_proxy.ipynb")
    'https://mybinder.org/v2/gh/acme/k8snet-lesson/v1.0?labpath=notebooks%2F05_services_and_kube_proxy.ipynb'
    >>> nbgitpuller_link("https://hub.example.edu", "acme/k8snet-lesson", "v1.0", "notebooks/00_start_here.ipynb")
    'https://hub.example.edu/hub/user-redirect/git-pull?repo=https%3A%2F%2Fgithub.com%2Facme%2Fk8snet-lesson&urlpath=lab%2Ftree%2Fk8snet-lesson%2Fnotebooks%2F00_start_here.ipynb&branch=v1.0'
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlencode, urlsplit

from .errors import InvalidValue

__all__ = ["binder_link", "nbgitpuller_link", "check_repo", "check_hub"]

_REPO = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")


def check_repo(repo: str) -> str:
    """``OWNER/NAME`` as GitHub spells repositories; anything else is an error naming it."""
    if not _REPO.match(repo or ""):
        raise InvalidValue(f"repository {repo!r} is not OWNER/NAME (for example acme/k8snet-lesson)")
    return repo


def check_hub(hub: str) -> str:
    parts = urlsplit(hub or "")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidValue(f"hub URL {hub!r} is not an http(s) URL (for example https://hub.example.edu)")
    return hub.rstrip("/")


def binder_link(repo: str, ref: str, path: str) -> str:
    """A mybinder.org link that opens ``path`` in JupyterLab (``?labpath=``)."""
    check_repo(repo)
    return f"https://mybinder.org/v2/gh/{repo}/{quote(ref, safe='')}?labpath={quote(path, safe='')}"


def nbgitpuller_link(hub: str, repo: str, ref: str, path: str) -> str:
    """An nbgitpuller link: the hub clones (or updates) the repository, then opens ``path``."""
    hub = check_hub(hub)
    name = check_repo(repo).split("/", 1)[1]
    query = urlencode(
        {"repo": f"https://github.com/{repo}", "urlpath": f"lab/tree/{name}/{path}", "branch": ref},
        quote_via=quote,
        safe="",
    )
    return f"{hub}/hub/user-redirect/git-pull?{query}"
