"""One router per Metronome object kind, plus the local-only admin endpoints."""
