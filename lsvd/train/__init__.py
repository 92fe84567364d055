"""SelfSVD training pieces (spec/selfsvd-official.md §4): losses, the cosine LR schedule, one training step.

* :mod:`lsvd.train.losses` -- aligned L1 on the PS frame, LSGAN losses, the PS-feature regulariser.
* :mod:`lsvd.train.schedule` -- per-iteration cosine annealing (no warm-up) and a resumable scheduler.
* :mod:`lsvd.train.step` -- :func:`~lsvd.train.step.train_step` (§4.1; SelfSVD* with a teacher, §4.4).
"""
