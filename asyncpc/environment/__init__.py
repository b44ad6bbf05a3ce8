"""Data sources, presentation protocols and the environment's message schedule."""

from ._schedule import EV_CLAMP, EV_MODULATE, EV_UNCLAMP, Schedule

__all__ = ["EV_CLAMP", "EV_MODULATE", "EV_UNCLAMP", "Schedule"]
