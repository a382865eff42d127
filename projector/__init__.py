"""Projector: folds the event log into the analysis_request read model."""
