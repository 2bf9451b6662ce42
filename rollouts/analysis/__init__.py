"""The AnalysisRun engine: condition evaluation, measurement scheduling, run assessment.

Modules: ``conditions`` (and ``expr_*``) for the condition language, ``assess`` and
``schedule`` (pure), ``args`` (templates -> run), ``engine`` (the asyncio runner),
``checks`` (template validation for lint), ``providers`` (prometheus, web, gateway).
"""

__all__: list[str] = []
