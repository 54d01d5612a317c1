"""Reports: the paper's figures and a self-contained HTML page."""

from .html import build_report

__all__ = ["build_report"]
