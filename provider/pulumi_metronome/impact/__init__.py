"""Pricing impact: usage and charges of the pricing a stack has now vs the pricing a change
proposes, over real usage events, for review in a pull request (``pulumi-metronome impact``).
"""

from .analysis import Impact, analyse
from .inputs import InputError, Pricing, load_plan, load_state
from .report import as_json, markdown
from .usage import EventsError

__all__ = [
    "EventsError",
    "Impact",
    "InputError",
    "Pricing",
    "analyse",
    "as_json",
    "load_plan",
    "load_state",
    "markdown",
]
