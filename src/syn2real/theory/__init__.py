"""Theory: the two-layer averaged-SGD transfer simulation and the rate table (App. E)."""

from .network import Params, asgd, forward, init_symmetric, sphere
from .rates import CONDITIONS, RateCase, pretraining_exponent, rate_table
from .simulate import SimulationConfig, fit_grid, simulate
from .targets import HarmonicTarget, make_target, ntk_eigenvalues

__all__ = ["CONDITIONS", "HarmonicTarget", "Params", "RateCase", "SimulationConfig", "asgd",
           "fit_grid", "forward", "init_symmetric", "make_target", "ntk_eigenvalues",
           "pretraining_exponent", "rate_table", "simulate", "sphere"]
