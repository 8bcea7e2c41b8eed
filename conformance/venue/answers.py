"""How the venue writes its answers: the status and JSON body of a rejection and of a leverage change.

The rest of the venue decides *what* to answer; this class only puts it on the wire (through `wire`).
It is a class so that a deliberately broken twin (``conformance.venue.faults``) can override one method,
like a defect in a vendor's serialisation layer or API gateway.
"""

from __future__ import annotations

from typing import Any

from conformance.venue import wire
from conformance.venue.errors import VenueError
from conformance.venue.trading import LeverageChange


class Answers:
    def rejection(self, error: VenueError) -> tuple[int, dict[str, Any]]:
        """ERR-ENVELOPE: the error's 4xx (or 5xx) status and the ``{"code", "msg"}`` envelope."""
        return error.status, dict(error.envelope())

    def leverage_change(self, change: LeverageChange) -> dict[str, Any]:
        """LEV-OK, LEV-ECHO: ``{"leverage": int, "maxNotionalValue": decimal text, "symbol": str}``."""
        return wire.leverage_change(change)
