"""Renderings of the model for people: kubectl's text views, plots, widgets, diagrams.

Each module imports its heavy dependency (matplotlib, ipywidgets, networkx) inside the
functions that need it, so ``import k8snet_lesson.view`` costs nothing; the kubectl text
views (:mod:`k8snet_lesson.view.kubectl`) need only the standard library.
"""
