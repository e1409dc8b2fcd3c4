"""Guardrails: policies of ordered rules checked on input and output, streams included."""
