"""Bounds of the integers the API takes: checked before anything reaches a query (a 422
naming the field), since SQLite refuses Python ints past 64 bits (an ``OverflowError``)
and PostgreSQL's INTEGER columns hold 32."""

from __future__ import annotations

#: the largest account id or version number (an INTEGER column)
MAX_ID = 2**31 - 1
