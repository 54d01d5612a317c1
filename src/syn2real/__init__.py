"""syn2real: scaling laws for synthetic-to-real transfer.

Fit the paper's laws (:mod:`syn2real.law`), turn them into decisions
(:mod:`syn2real.advise`) and report them (:mod:`syn2real.report`).
"""

__version__ = "0.1.0"
