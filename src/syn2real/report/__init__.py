"""Reports: the paper's figures and a self-contained HTML page."""

from .html import build_report, save_figure

__all__ = ["build_report", "save_figure"]
