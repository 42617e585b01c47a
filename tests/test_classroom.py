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
    assert main(["classroom-links", "--repo", "acme/k8snet-lesson", "--ref", "class-2026", "--hub", "https://hub.example.edu"]) == 0
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


def test_colab_link_opens_the_notebook_from_github():
    link = classroom.colab_link("acme/k8snet-lesson", "main", "notebooks/03_cni_plugins.ipynb")
    parts = urlsplit(link)
    assert (parts.netloc, parts.path) == ("colab.research.google.com", "/github/acme/k8snet-lesson/blob/main/notebooks/03_cni_plugins.ipynb")


@pytest.mark.parametrize("ref, tag", [("main", False), ("class-2026", False), ("release/2026", False),
                                      ("v1.0", True), ("0.1.0", True), ("v2.3.1-rc1", True)])
def test_refs_spelled_like_releases_are_taken_for_tags(ref, tag):
    assert classroom.looks_like_tag(ref) is tag


def test_a_local_tag_is_a_tag_whatever_its_spelling():
    assert classroom.looks_like_tag("spring-term", frozenset({"spring-term"}))


def test_hub_links_to_a_tag_warn_on_stderr_and_say_why(capsys):
    assert main(["classroom-links", "--repo", "acme/k8snet-lesson", "--ref", "v1.0", "--hub", "https://hub.example.edu"]) == 0
    captured = capsys.readouterr()
    assert captured.err.startswith("k8snet classroom-links: warning: 'v1.0' looks like a tag")
    assert "git diff ..origin/v1.0" in captured.err and "exit 128" in captured.err
    assert "refs/heads/class-NAME" in captured.err
    assert "warning" not in captured.out


def test_branch_links_give_no_warning_and_colab_beside_binder(capsys):
    assert main(["classroom-links", "--repo", "acme/k8snet-lesson", "--hub", "https://hub.example.edu"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert captured.out.count("colab:") == captured.out.count("binder:") > 0
    assert "branch=main" in captured.out
    assert main(["classroom-links", "--repo", "acme/k8snet-lesson", "--no-colab"]) == 0
    assert "colab:" not in capsys.readouterr().out


def test_binder_may_name_a_tag_without_a_warning(capsys):
    assert main(["classroom-links", "--repo", "acme/k8snet-lesson", "--ref", "v1.0"]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and "/v2/gh/acme/k8snet-lesson/v1.0?" in captured.out


def test_outside_a_checkout_the_command_says_where_to_run_it(capsys, monkeypatch, tmp_path):
    from k8snet_lesson.cli import classroom_links

    monkeypatch.setattr(classroom_links, "_checkouts", lambda: [tmp_path])
    assert main(["classroom-links", "--repo", "acme/k8snet-lesson"]) == 2
    err = capsys.readouterr().err
    assert "run this in the course's checkout" in err and len(err.strip().splitlines()) == 1
