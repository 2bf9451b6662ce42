"""The AnalysisRun engine: condition evaluation, measurement scheduling, run assessment."""
