"""Launch links for a class: Binder and Colab for everyone, nbgitpuller for a JupyterHub cohort.

Binder and Colab links may name a branch or a tag. An nbgitpuller link must name a
branch: the first click clones the ref, and every later click updates the learner's copy
with ``git fetch`` and ``git diff ..origin/<ref>``, which fails (exit 128) for a tag, since
a tag is no remote-tracking branch. To hold a class on one release, give the hub a branch
made from the tag (``git push origin v1.0:refs/heads/class-2026``).

    >>> binder_link("acme/k8snet-lesson", "v1.0", "notebooks/05_services_and_kube_proxy.ipynb")
    'https://mybinder.org/v2/gh/acme/k8snet-lesson/v1.0?labpath=notebooks%2F05_services_and_kube_proxy.ipynb'
    >>> nbgitpuller_link("https://hub.example.edu", "acme/k8snet-lesson", "v1.0", "notebooks/00_start_here.ipynb")
    'https://hub.example.edu/hub/user-redirect/git-pull?repo=https%3A%2F%2Fgithub.com%2Facme%2Fk8snet-lesson&urlpath=lab%2Ftree%2Fk8snet-lesson%2Fnotebooks%2F00_start_here.ipynb&branch=v1.0'
    >>> colab_link("acme/k8snet-lesson", "main", "notebooks/05_services_and_kube_proxy.ipynb")
    'https://colab.research.google.com/github/acme/k8snet-lesson/blob/main/notebooks/05_services_and_kube_proxy.ipynb'
    >>> looks_like_tag("v1.0"), looks_like_tag("main"), looks_like_tag("class-2026")
    (True, False, False)
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlencode, urlsplit

from .errors import InvalidValue

__all__ = ["binder_link", "colab_link", "nbgitpuller_link", "check_repo", "check_hub", "looks_like_tag", "TAG_ON_HUB"]

_VERSION = re.compile(r"^v?\d+(?:\.\d+)+(?:[-.]?[A-Za-z0-9]+)*$")

#: Why a hub link must not name a tag (``k8snet classroom-links --hub`` prints it).
TAG_ON_HUB = (
    "{ref!r} looks like a tag: nbgitpuller clones it on a learner's first click, but every later "
    "click runs `git diff ..origin/{ref}`, which fails (exit 128) because a tag is no remote branch. "
    "Give --ref a branch; to hold the class on a release, make a branch from the tag "
    "(git push origin {ref}:refs/heads/class-NAME)."
)

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


def colab_link(repo: str, ref: str, path: str) -> str:
    """A Colab link that opens ``path`` from GitHub (its first code cell installs the package)."""
    check_repo(repo)
    return f"https://colab.research.google.com/github/{repo}/blob/{quote(ref, safe='/')}/{quote(path, safe='/')}"


def looks_like_tag(ref: str, tags: frozenset[str] | set[str] = frozenset()) -> bool:
    """Whether ``ref`` is one of ``tags`` (a checkout's tags) or is spelled like a release (``v1.2``)."""
    return ref in tags or bool(_VERSION.match(ref))


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
