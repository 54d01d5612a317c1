"""Command-line interface (``syn2real``)."""
