"""Application services: the use cases the API, the pages and the CLI share.

Routes stay thin and call these; these call ``db.crud`` (persistence), ``engine`` (compile)
and Temporal (through :class:`services.temporal.TemporalGateway`).
"""
