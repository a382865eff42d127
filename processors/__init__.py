"""Processors: take AnalysisRequested events, analyse the media, and record
started, progressed and exactly one completed or failed event."""
