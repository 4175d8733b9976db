"""Numbers from the gateway's JSON: tolerant of absence, intolerant of garbage.

A missing value, `null` or a string that is no number at all is "not known" (None); a value no
real gateway sends (a boolean, NaN, an infinity, 1e308, a 400-digit integer, a negative count)
raises GatewayImplausible, and the poll fails (docs/behaviour.md, "Hostile numbers").
"""

from __future__ import annotations

import math

from .errors import GatewayImplausible
from .textsafe import escape

MAX_MAGNITUDE = 1e15  # no gateway value comes near (lifetime Wh ~1e9, timestamps ~2e9)


def _shown(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"an integer of {value.bit_length()} bits"  # str() of 4300+ digits raises
    return escape(repr(value), 40)


def num(value: object) -> float | None:
    """A finite number from an int, float or numeric string; None when absent (missing, null,
    or a string that is no number at all, as some firmware sends).

    Raises:
        GatewayImplausible: a boolean, NaN, an infinity, or a magnitude beyond MAX_MAGNITUDE
            (1e308, a 400-digit integer or numeric string).
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise GatewayImplausible(f"implausible number: a boolean ({value})")
    if isinstance(value, int | float):
        try:
            result = float(value)
        except OverflowError:  # an int beyond the float range (JSON allows it)
            raise GatewayImplausible(f"implausible number: {_shown(value)} (out of range)"
                                     ) from None
    elif isinstance(value, str):
        try:
            result = float(value.strip().replace(",", "."))
        except ValueError:
            return None
    else:
        return None
    if not math.isfinite(result) or abs(result) > MAX_MAGNITUDE:
        raise GatewayImplausible(f"implausible number: {_shown(value)}")
    return result


def count(value: object, most: int) -> int | None:
    """A whole number 0..most (a phase count, a flag); None when absent.

    Raises:
        GatewayImplausible: negative, fractional, above `most`, or implausible as for num().
    """
    found = num(value)
    if found is None:
        return None
    if not found.is_integer() or not 0 <= found <= most:
        raise GatewayImplausible(f"implausible count: {_shown(value)} (not a whole number"
                                 f" from 0 to {most})")
    return int(found)
