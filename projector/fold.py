"""The projector's fold, which lives in ``media_analysis.analysis_fold`` so the
query side's audit endpoint can fold an analysis's events as of a moment with the
very same rules, without importing the projector."""

from media_analysis.analysis_fold import TERMINAL, AnalysisState, apply, erased

__all__ = ["TERMINAL", "AnalysisState", "apply", "erased"]
