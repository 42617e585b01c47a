# %% [markdown]
# # 07 · Practice and quiz
#
# **What you will be able to do:**
#
# - answer the lesson's three practice questions from memory, in your own words or as a kubectl command;
# - answer its three quiz questions and say why each wrong choice is wrong;
# - see your score over the whole course, what to revisit, and how your predictions went.
#
# The questions are the lesson's own, about the lesson's cluster (Calico <abbr title="an overlay that wraps each Pod's Ethernet frame in a UDP packet between nodes (Flannel: UDP 8472; Calico: UDP 4789), adding 50 bytes">VXLAN</abbr>,
# `checkout-api-svc` in the namespace `production`).

# %% [markdown]
# ## How the check works
#
# - **Practice questions: type the answer.** It is read for its meaning, not letter by
#   letter: name the component however you like, and a kubectl command is parsed the way
#   kubectl reads it (short names, `-n`, `-l` and flags in any order all count).
# - **Quiz questions: pick one choice.** Your choices come in your own order, kept in your
#   progress file, so the place of an answer tells you nothing.
# - **Every answer is explained**, right or wrong. A wrong one links to the section that
#   teaches it.
#
# Nothing here shows an answer before you give yours.

# %% [markdown]
# ## Recap
#
# - A right answer says why it is right; a wrong one says what it would have done instead.
# - Your answers are kept between sessions: open this notebook again and they are still there.
# - Below the check: your results over every notebook's check, and your predictions.

# %% tags=["graded"]
from k8snet_lesson.view.quiz import course_results, graded_check

graded_check("07")

# %% [markdown]
# ## Your results across the course
#
# Each notebook ends with a check like the one above. This summary follows your answers
# as you check them.

# %%
course_results()

# %% [markdown]
# Next, if you have a Linux machine with root: **08 · Kernel lab**, the same cluster built
# from real Linux networking.

# %% [markdown] jp-MarkdownHeadingCollapsed=true
# ## Going further: another variant
#
# Some items draw their numbers from the model: the probability on a rule, how many nodes a
# pod network holds. Another seed gives another variant; this one is not recorded.

# %%
graded_check("05", seed=7, progress=None)
