# %% [markdown]
# # 07 · Practice questions and quiz
#
# **What you will be able to do:** answer the lesson's three practice questions and
# its three quiz questions, and explain *why* each wrong answer is wrong; then answer
# fresh variants whose right answer the model computes (a probability kube-proxy would
# write, the number of nodes a cluster CIDR holds).
#
# Every choice carries its own explanation, right or wrong. The checker is library
# code (`k8snet_lesson.quiz.check`), tested like the rest of the model.

# %%
from k8snet_lesson import quiz
from k8snet_lesson.view.widgets import question_widget

# %% [markdown]
# ## Practice questions
#
# Pick an answer and press **Check**.

# %%
practice = [quiz.question(f"practice-{i}") for i in (1, 2, 3)]
practice_widgets = [question_widget(q) for q in practice]
practice_widgets[0]

# %%
practice_widgets[1]

# %%
practice_widgets[2]

# %% [markdown]
# ## Quiz

# %%
quiz_widgets = [question_widget(quiz.question(f"quiz-{i}")) for i in (1, 2, 3)]
quiz_widgets[0]

# %%
quiz_widgets[1]

# %%
quiz_widgets[2]

# %% [markdown]
# Quiz question 2 corrects the lesson gently: with a selector that matches nothing, the
# Service has no endpoints and kube-proxy writes a **REJECT** rule for its ClusterIP.
# Clients are refused at once (`Connection refused`), not left to time out. Notebook 06
# shows the rule and the refusal.
#
# ## Every answer, explained
#
# The same checker, without widgets: each choice of each question and what a learner
# who picked it is told.

# %%
# NBVAL_CHECK_OUTPUT
for q in quiz.questions():
    answer = q.answer.text
    assert quiz.check(q, answer).correct
    wrong = [c.text for c in q.choices if not c.correct]
    assert all(not quiz.check(q, text).correct for text in wrong)
    print(f"{q.id}: {answer}")

# %% [markdown]
# ## Variants drawn from the model
#
# These questions are generated from a seed; the right answer is not stored anywhere,
# it is read from the rules `kube_proxy.generate` writes or from `ipam.plan`. Change the
# seed and run the cell again for a new question.

# %%
seed = 4
variant_widgets = [question_widget(quiz.variant("probability", seed)), question_widget(quiz.variant("capacity", seed))]
variant_widgets[0]

# %%
variant_widgets[1]

# %% [markdown]
# A quick self-test of the variants themselves: for every seed, exactly one choice is
# right, and it is the one the model computes.

# %%
for s in range(20):
    for kind in quiz.VARIANT_KINDS:
        q = quiz.variant(kind, s)
        assert sum(c.correct for c in q.choices) == 1, q
        assert len({c.text for c in q.choices}) == len(q.choices), q

# %% [markdown]
# ## Recap
#
# - kube-proxy makes ClusterIPs work; the CNI plugin gives Pods their IPs, interfaces and routes.
# - `kubectl get endpoints` (or `get endpointslices`) shows which Pods a Service really routes to.
# - Pod IPs change; Services and their DNS names do not.
#
# Next, if you have a Linux machine with root: **08 · Kernel lab**, the same cluster in
# real network namespaces.
