"""Every way the venue says no: an HTTP status, a Binance error code and its message.

A rejection is raised as a `VenueError` anywhere in the venue and rendered by the app as the envelope
``{"code": <negative int>, "msg": <text>}`` with its status. The functions below are the whole catalogue
(``docs/reference-venue.md``, "Errors"); nothing else in the venue invents a code or a message.
"""

from __future__ import annotations

from decimal import Decimal

MAX_BODY_BYTES = 64 * 1024
MAX_RECV_WINDOW = 60_000
_PATH_SHOWN = 200  # an echoed path is cut to this many characters


class VenueError(Exception):
    """A request the venue rejects: rendered as ``{"code", "msg"}`` with ``status``."""

    def __init__(self, status: int, code: int, msg: str) -> None:
        super().__init__(f"{status} {code} {msg}")
        self.status = status
        self.code = code
        self.msg = msg

    def envelope(self) -> dict[str, int | str]:
        return {"code": self.code, "msg": self.msg}


# --------------------------------------------------------------------------------------------------
# Request security and timing


def api_key_missing() -> VenueError:
    return VenueError(401, -2014, "API-key format invalid.")


def api_key_unknown() -> VenueError:
    return VenueError(401, -2015, "Invalid API-key, IP, or permissions for action.")


def signature_invalid() -> VenueError:
    return VenueError(400, -1022, "Signature for this request is not valid.")


def timestamp_stale() -> VenueError:
    return VenueError(400, -1021, "Timestamp for this request is outside of the recvWindow.")


def timestamp_ahead() -> VenueError:
    return VenueError(400, -1021, "Timestamp for this request was 1000ms ahead of the server's time.")


def recv_window_too_large() -> VenueError:
    return VenueError(400, -1131, f"recvWindow must be less than or equal to {MAX_RECV_WINDOW}.")


# --------------------------------------------------------------------------------------------------
# Reading parameters


def mandatory_missing(name: str) -> VenueError:
    """Missing, empty, null or malformed (a timestamp that is not an integer, a symbol that is a list)."""
    return VenueError(400, -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def duplicate_parameter() -> VenueError:
    return VenueError(400, -1101, "Duplicate values for a parameter detected.")


def too_many_parameters() -> VenueError:
    return VenueError(400, -1101, "Too many parameters sent for this endpoint.")


def illegal_characters() -> VenueError:
    """Bytes that are not UTF-8 (raw or percent-encoded) in the query or the body."""
    return VenueError(400, -1100, "Illegal characters found in a parameter.")


def malformed_json() -> VenueError:
    return VenueError(400, -1100, "The request body is not a JSON object.")


def body_too_large() -> VenueError:
    return VenueError(413, -1000, f"Request body is larger than {MAX_BODY_BYTES} bytes.")


def invalid_parameter(name: str) -> VenueError:
    """A parameter that was sent but has the wrong type or form (``leverage=20.5``, ``reduceOnly=maybe``)."""
    return VenueError(400, -1130, f"Data sent for parameter '{name}' is not valid.")


def illegal_client_order_id(pattern: str) -> VenueError:
    return VenueError(
        400,
        -1100,
        f"Illegal characters found in parameter 'newClientOrderId'; legal range is '{pattern}'.",
    )


# --------------------------------------------------------------------------------------------------
# Business rules


def invalid_symbol() -> VenueError:
    return VenueError(400, -1121, "Invalid symbol.")


def leverage_out_of_band(message: str) -> VenueError:
    """The message is the dialect's: ``Leverage 200 is not valid`` or ``... Max: 125``."""
    return VenueError(400, -4028, message)


def leverage_reduction_rejected() -> VenueError:
    """Binance's answer in isolated mode; the reference venue never sends it (a fault does)."""
    return VenueError(
        400, -4161, "Leverage reduction is not supported in Isolated Margin Mode with open positions."
    )


def invalid_side() -> VenueError:
    return VenueError(400, -1117, "Invalid side.")


def invalid_order_type() -> VenueError:
    return VenueError(400, -1116, "Invalid orderType.")


def position_side_mismatch() -> VenueError:
    return VenueError(400, -4061, "Order's position side does not match user's setting.")


def quantity_not_positive() -> VenueError:
    return VenueError(400, -4003, "Quantity less than or equal to zero.")


def quantity_below_minimum() -> VenueError:
    return VenueError(400, -4004, "Quantity less than min quantity.")


def quantity_above_maximum() -> VenueError:
    return VenueError(400, -4005, "Quantity greater than max quantity.")


def quantity_precision() -> VenueError:
    """The quantity is not a multiple of the symbol's ``stepSize``."""
    return VenueError(400, -1111, "Precision is over the maximum defined for this asset.")


def notional_too_small(min_notional: Decimal) -> VenueError:
    return VenueError(
        400,
        -4164,
        f"Order's notional must be no smaller than {min_notional} (unless you choose reduce only).",
    )


def reduce_only_rejected() -> VenueError:
    return VenueError(400, -2022, "ReduceOnly Order is rejected.")


def position_limit_exceeded() -> VenueError:
    return VenueError(400, -2027, "Exceeded the maximum allowable position at current leverage.")


# --------------------------------------------------------------------------------------------------
# Routing and faults of the venue itself


def path_not_found(path: str) -> VenueError:
    return VenueError(404, -5000, f"Path {path[:_PATH_SHOWN]} not found.")


def method_not_allowed(method: str, path: str) -> VenueError:
    return VenueError(405, -5001, f"Method {method[:_PATH_SHOWN]} not allowed on {path[:_PATH_SHOWN]}.")


def internal_error() -> VenueError:
    """A bug in the venue: the only 5xx it sends, and it says nothing about the cause."""
    return VenueError(500, -1000, "An unknown error occurred while processing the request.")
