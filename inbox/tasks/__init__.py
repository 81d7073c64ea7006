"""Thin tasks: each takes ids and calls a service; all are safe to run twice."""
