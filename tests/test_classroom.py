"""Binder and nbgitpuller links, and the classroom-links command."""

from urllib.parse import parse_qs, urlsplit

import pytest

from k8snet_lesson import classroom
from k8snet_lesson.cli import main
from k8snet_lesson.errors import InvalidValue


def test_binder_link_opens_the_notebook_in_lab():
    link = classroom.binder_link("acme/k8snet-lesson", "v1.2", "notebooks/04_request_across_nodes.ipynb")
    parts = urlsplit(link)
    assert parts.netloc == "mybinder.org"
    assert parts.path == "/v2/gh/acme/k8snet-lesson/v1.2"
    assert parse_qs(parts.query) == {"labpath": ["notebooks/04_request_across_nodes.ipynb"]}


def test_nbgitpuller_link_round_trips_its_parameters():
    link = classroom.nbgitpuller_link("https://hub.example.edu/", "acme/k8snet-lesson", "v1.2", "notebooks/00_start_here.ipynb")
    parts = urlsplit(link)
    assert parts.path == "/hub/user-redirect/git-pull"
    assert parse_qs(parts.query) == {
        "repo": ["https://github.com/acme/k8snet-lesson"],
        "urlpath": ["lab/tree/k8snet-lesson/notebooks/00_start_here.ipynb"],
        "branch": ["v1.2"],
    }


@pytest.mark.parametrize("repo", ["", "acme", "acme/k8s/lesson", "-bad/name", "acme/ spaces"])
def test_bad_repository_names_are_refused(repo):
    with pytest.raises(InvalidValue, match="OWNER/NAME"):
        classroom.binder_link(repo, "main", "notebooks/x.ipynb")


def test_cli_prints_one_binder_link_per_notebook(capsys):
    assert main(["classroom-links", "--repo", "acme/k8snet-lesson", "--ref", "v1.0", "--hub", "https://hub.example.edu"]) == 0
    out = capsys.readouterr().out
    from k8snet_lesson.cli.classroom_links import notebooks

    names = notebooks()
    assert names, "the course has notebooks"
    assert out.count("binder:") == len(names) and out.count("nbgitpuller:") == len(names)
    assert "labpath=notebooks%2F00_start_here.ipynb" in out


def test_cli_bad_hub_exits_2_with_one_line(capsys):
    assert main(["classroom-links", "--repo", "acme/k8snet-lesson", "--hub", "ftp:/x"]) == 2
    err = capsys.readouterr().err
    assert "ftp:/x" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
