"""Pydantic models of every resource the project reads or writes, and CRD generation.

The bottom layer: imports nothing else from the package and does no I/O.
"""
