"""The composition roots above the services: the ``media-analysis`` CLI, the
combined HTTP app and the all-in-one runner. The only code that imports more
than one service."""
