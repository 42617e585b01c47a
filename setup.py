"""The build's one piece that pyproject.toml cannot say: ``data/`` ships in the wheel.

The course keeps its data at the top of the repository (``data/``). The wheel carries
the same files as the package ``k8snet_lesson.data`` (mapped onto ``data/`` here), so
``k8snet_lesson.resources`` finds them after a plain ``pip install`` as well.
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["k8snet_lesson", "k8snet_lesson.*"]), "k8snet_lesson.data", "k8snet_lesson.data.dumps"],
    package_dir={"k8snet_lesson.data": "data"},
    package_data={"k8snet_lesson.data": ["*"], "k8snet_lesson.data.dumps": ["*"]},  # every file (tests/test_wheel.py)
)
