"""Rendering search: when the verdict is "change the rendering", find the rendering whose
learning curve the law predicts lowest at the size you will render (``syn2real search``)."""

from .halving import Candidate, SearchState, run_halving
from .judge import Judgement, judge
from .landscape import Landscape
from .space import Knob, SearchConfig, SearchError, SearchSettings, load_search

__all__ = ["Candidate", "Judgement", "Knob", "Landscape", "SearchConfig", "SearchError",
           "SearchSettings", "SearchState", "judge", "load_search", "run_halving"]
