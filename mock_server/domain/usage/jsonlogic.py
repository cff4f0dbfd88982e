"""JSON-logic as Togai evaluates it: its fork of json-logic-java, on ``BigDecimal``, compiled to closures.

Togai runs meters with TogaiHQ/json-logic-java (``JsonLogic.java`` and
``evaluator/expressions/*``, HEAD ``b63c49a``). This module follows it rule
for rule, with Python values standing for Java's:

- numbers are :class:`~decimal.Decimal` with Java's scale: ``+ - *`` are
  exact, ``/`` is ``a.divide(b, 4, HALF_UP)`` (always 4 decimals, ``4/2`` is
  ``2.0000``), ``%`` is ``remainder``; ``==`` on two numbers is
  ``BigDecimal.equals`` (``2.0 == 2`` is false) while ``===`` and ``<`` compare
  values; a string operand is ``new BigDecimal(s)`` or the operation gives
  null (a comparison false); division by zero fails the evaluation;
- ``var`` reads dotted names as the fork does (a key holding the dots wins;
  then each part, trying the rest of the name after the first dot at each level);
- Togai's operators: ``date`` (an ``OffsetDateTime``), ``date.add`` /
  ``date.sub`` (string date, XML-schema duration; the fields are added
  years, months, days, hours, minutes, whole seconds, in that order, each
  clamping to the month's end; the duration's sign is ignored, as
  ``javax.xml.datatype.Duration.getDays()`` is unsigned), ``duration.of``
  ([amount, ChronoUnit name]), ``duration.between`` ([date, date], as
  ``java.time.Duration.toString()``) and ``duration.as`` ([duration,
  MILLIS|SECONDS|MINUTES|HOURS|DAYS], truncated as ``toMinutes()`` & co.);
  a date or duration operator given something it cannot read gives null;
- ``log`` gives its argument back and writes nothing (the fork prints it).

Limits the fork has not: a number in the expression holds at most
:data:`MAX_DIGITS` significant digits and an exponent within
:data:`MAX_EXPONENT`; arithmetic stays exact up to 1000 digits and exponents
within 1000 (beyond, the evaluation fails rather than round); dates are years
1 to 9999. :func:`compile_logic` refuses an expression whose worst case
exceeds :data:`STATIC_STEPS` steps (each operation, each list or string item
it makes), and a compiled one stops after :data:`RUN_STEPS` steps.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import (
    ROUND_HALF_UP,
    Context,
    Decimal,
    DecimalException,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
    Subnormal,
    Underflow,
)
from typing import Any

MAX_DIGITS = 38  # significant digits of a number read from an expression or an event (a DECIMAL(38) column)
MAX_EXPONENT = 100  # |adjusted exponent| of such a number
STATIC_STEPS = 5_000  # worst-case steps an expression may take, checked when it is stored
RUN_STEPS = 10_000  # steps an evaluation may take before it is stopped
DATA_SIZE = 200  # the longest value an event brings (a dimension value: maxLength 200)
_NUMERAL_CHARS = 1_100  # a string operand longer than this is no number the evaluator reads

# Exact arithmetic, or an error: nothing is ever rounded silently.
CTX = Context(prec=1000, rounding=ROUND_HALF_UP, Emax=1000, Emin=-1000,
              traps=[InvalidOperation, DivisionByZero, Overflow, Inexact, Subnormal, Underflow])
_SCALE_4 = 4
_JAVA_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_INT32 = re.compile(r"[+-]?\d{1,10}")
_LONG = re.compile(r"-?\d{1,19}")
COMPILE_NODES = 20_000  # nodes compiled for one expression (a reduce is compiled again while its accumulator grows)

Value = Any  # None, bool, Decimal, str, list, dict (the data), JDate
Node = Callable[[Value, "Budget"], Value]


class LogicError(ValueError):
    """An expression Togai's evaluator would not take, or one over the budget (refused when stored)."""


class EvalError(Exception):
    """The evaluation failed: an exception of the Java evaluator, or the step budget ran out."""


class Budget:
    """Steps left to one evaluation."""

    __slots__ = ("left",)

    def __init__(self, steps: int) -> None:
        self.left = steps

    def spend(self, steps: int) -> None:
        """Take ``steps``; :class:`EvalError` when none are left."""
        self.left -= steps
        if self.left < 0:
            raise EvalError(f"stopped after {RUN_STEPS} steps")


# -- values as Java sees them --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JDate:
    """A ``java.time.OffsetDateTime``: local date-time (whole seconds), nanoseconds, offset in seconds."""

    local: datetime
    nano: int
    offset: int

    def epoch_nanos(self) -> int:
        """The instant, in nanoseconds since 1970-01-01T00:00Z."""
        seconds = (self.local - datetime(1970, 1, 1)) // timedelta(seconds=1) - self.offset
        return seconds * 1_000_000_000 + self.nano

    def __str__(self) -> str:
        text = self.local.strftime("%Y-%m-%dT%H:%M")
        if self.local.second or self.nano:
            text += f":{self.local.second:02d}"
        if self.nano:
            if self.nano % 1_000_000 == 0:
                text += f".{self.nano // 1_000_000:03d}"
            elif self.nano % 1000 == 0:
                text += f".{self.nano // 1000:06d}"
            else:
                text += f".{self.nano:09d}"
        if not self.offset:
            return text + "Z"
        sign = "-" if self.offset < 0 else "+"
        hours, rest = divmod(abs(self.offset), 3600)
        minutes, seconds = divmod(rest, 60)
        return text + f"{sign}{hours:02d}:{minutes:02d}" + (f":{seconds:02d}" if seconds else "")


_OFFSET_DATE_TIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?"
    r"(?:([Zz])|([+-])(\d{2})(?::?(\d{2})(?::?(\d{2}))?)?)"
)


def parse_date(text: str) -> JDate:
    """``OffsetDateTime.parse`` (ISO_OFFSET_DATE_TIME: a zone is required); :class:`ValueError` if not one."""
    match = _OFFSET_DATE_TIME.fullmatch(text)
    if match is None:
        raise ValueError(f"Text {text!r} could not be parsed")
    year, month, day, hour, minute, second, fraction, _, sign, oh, om, os_ = match.groups()
    local = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0))
    nano = int((fraction or "").ljust(9, "0") or 0)
    hours, minutes, seconds = int(oh or 0), int(om or 0), int(os_ or 0)
    if hours > 18 or minutes > 59 or seconds > 59 or hours * 3600 + minutes * 60 + seconds > 18 * 3600:
        raise ValueError(f"Text {text!r}: offset out of range")
    offset = (hours * 3600 + minutes * 60 + seconds) * (-1 if sign == "-" else 1)
    return JDate(local, nano, offset)


def _jstr(value: Value) -> str:
    """``String.valueOf`` of a value: Java's text of numbers, booleans, lists and dates."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, list):
        return "[" + ", ".join(_jstr(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_jstr(v)}" for k, v in value.items()) + "}"
    return str(value)


def _to_string(value: Value) -> str:
    """``value.toString()``: a null is a NullPointerException."""
    if value is None:
        raise EvalError("NullPointerException")
    return _jstr(value)


def _jtrim(text: str) -> str:
    return text.strip("".join(chr(c) for c in range(33)))


def _fix(number: Decimal) -> Decimal:
    """BigDecimal has no negative zero."""
    return number.copy_abs() if number.is_zero() and number.is_signed() else number


def big_decimal(text: str) -> Decimal:
    """``new BigDecimal(text)``; :class:`ValueError` when Java refuses it (or it is too long to read)."""
    if len(text) > _NUMERAL_CHARS or _JAVA_NUMBER.fullmatch(text) is None:
        raise ValueError(f"{text[:40]!r} is not a number")
    try:
        return _fix(CTX.create_decimal(text))
    except DecimalException:
        raise ValueError(f"{text[:40]!r} is too large") from None


def bounded(number: Decimal) -> bool:
    """At most :data:`MAX_DIGITS` significant digits and an exponent within :data:`MAX_EXPONENT`."""
    if not number.is_finite():
        return False
    if number.is_zero():
        return -MAX_EXPONENT - MAX_DIGITS <= number.as_tuple().exponent <= MAX_EXPONENT  # type: ignore[operator]
    digits = len(number.as_tuple().digits)
    return digits <= MAX_DIGITS and abs(number.adjusted()) <= MAX_EXPONENT


def _int_value(number: Decimal) -> int:
    """``BigDecimal.intValue()``: truncated, then its low 32 bits."""
    return ((int(number) + 2**31) % 2**32) - 2**31


def truthy(value: Value) -> bool:
    """``JsonLogic.truthy``."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, Decimal):
        return not value.is_zero()
    if isinstance(value, (str, list)):
        return len(value) > 0
    return True


def java_equals(left: Value, right: Value) -> bool:
    """``Object.equals``: numbers by value and scale, dates by local time and offset, lists item by item."""
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, Decimal) and isinstance(right, Decimal):
        return left.compare_total(right) == 0
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(java_equals(a, b) for a, b in zip(left, right, strict=True))
    if type(left) is not type(right):
        return False
    return bool(left == right)


# -- operators over evaluated arguments (PreEvaluatedArgumentsExpression) ----------------------


def _numbers(args: list[Value]) -> list[Decimal] | None:
    out = []
    for value in args:
        if isinstance(value, str):
            try:
                out.append(big_decimal(value))
            except ValueError:
                return None
        elif isinstance(value, Decimal):
            out.append(value)
        else:  # booleans, null, lists, dates are not numbers
            return None
    return out


def _divide(a: Decimal, b: Decimal) -> Decimal:
    """``a.divide(b, 4, RoundingMode.HALF_UP)``."""
    if b.is_zero():
        raise EvalError("ArithmeticException: / by zero")
    quotient, remainder = CTX.divmod(CTX.scaleb(a, Decimal(_SCALE_4)), b)
    if CTX.compare(CTX.multiply(remainder.copy_abs(), Decimal(2)), b.copy_abs()) >= 0:
        quotient = CTX.add(quotient, Decimal(1 if a.is_signed() == b.is_signed() else -1))
    return _fix(CTX.scaleb(quotient, Decimal(-_SCALE_4)))


def _remainder(a: Decimal, b: Decimal) -> Decimal:
    if b.is_zero():
        raise EvalError("ArithmeticException: Division by zero")
    return _fix(CTX.remainder(a, b))


_REDUCERS: dict[str, tuple[Callable[[Decimal, Decimal], Decimal], int]] = {
    "+": (lambda a, b: _fix(CTX.add(a, b)), 0),
    "-": (lambda a, b: _fix(CTX.subtract(a, b)), 2),
    "*": (lambda a, b: _fix(CTX.multiply(a, b)), 0),
    "/": (_divide, 2),
    "%": (_remainder, 2),
    "min": (lambda a, b: a if a.compare(b) <= 0 else b, 0),
    "max": (lambda a, b: a if a.compare(b) >= 0 else b, 0),
}


def _math(key: str) -> Callable[[list[Value], Value], Value]:
    reducer, most = _REDUCERS[key]

    def run(args: list[Value], data: Value) -> Value:
        if not args:
            return None
        if len(args) == 1:
            if key == "+" and isinstance(args[0], str):
                try:
                    return big_decimal(args[0])
                except ValueError as error:
                    raise EvalError(f"NumberFormatException: {error}") from None
            if key == "-" and isinstance(args[0], Decimal):
                return _fix(CTX.minus(args[0]))
            if key == "/":
                return None
        values = _numbers(args)
        if values is None:
            return None
        total = values[0]
        for i in range(1, len(values) if not most else min(len(values), most)):
            total = reducer(total, values[i])
        return total

    return run


def _compare(key: str) -> Callable[[list[Value], Value], Value]:
    def run(args: list[Value], data: Value) -> Value:
        n = min(len(args), 3)
        if n < 2:
            raise EvalError(f"'{key}' requires at least 2 arguments")
        values = _numbers(args[:n])
        if values is None:
            return False
        if len(args) == 3:
            if key == "<":
                return values[0] < values[1] < values[2]
            if key == "<=":
                return values[0] <= values[1] <= values[2]
            raise EvalError(f"'{key}' does not support between comparisons")
        a, b = values[0], values[1]
        return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[key]

    return run


def _loose_equals(args: list[Value], data: Value) -> bool:
    """``EqualityExpression``: Togai's loose-equality matrix."""
    if len(args) != 2:
        raise EvalError("equality expressions expect exactly 2 arguments")
    left, right = args
    if left is None and right is None:
        return True
    if left is None or right is None:
        return False
    number_l, number_r = isinstance(left, Decimal), isinstance(right, Decimal)
    if number_l and number_r:
        return java_equals(left, right)
    if isinstance(left, JDate) and isinstance(right, JDate):
        return left.epoch_nanos() == right.epoch_nanos()
    if isinstance(left, JDate) and isinstance(right, str):
        return _date_is(left, right)
    if isinstance(left, str) and isinstance(right, JDate):
        return _date_is(right, left)
    if number_l and isinstance(right, str):
        return _number_is(left, right)
    if number_l and isinstance(right, bool):
        return java_equals(left, Decimal(1) if right else Decimal(0))
    if isinstance(left, str) and isinstance(right, str):
        return left == right
    if isinstance(left, str) and number_r:
        return _number_is(right, left)
    if isinstance(left, str) and isinstance(right, bool):
        return truthy(left) == right
    if isinstance(left, bool) and isinstance(right, bool):
        return left == right
    if isinstance(left, bool) and number_r:
        return java_equals(right, Decimal(1) if left else Decimal(0))
    if isinstance(left, bool) and isinstance(right, str):
        return truthy(right) == left
    return not truthy(left) and not truthy(right)


def _number_is(number: Decimal, text: str) -> bool:
    try:
        return big_decimal("0" if not _jtrim(text) else text).compare(number) == 0
    except ValueError:
        return False


def _date_is(date: JDate, text: str) -> bool:
    try:
        return date.epoch_nanos() == parse_date(_jtrim(text)).epoch_nanos()
    except ValueError:
        return False


def _strict_equals(args: list[Value], data: Value) -> bool:
    if len(args) != 2:
        raise EvalError("equality expressions expect exactly 2 arguments")
    left, right = args
    if isinstance(left, Decimal) and isinstance(right, Decimal):
        return left.compare(right) == 0
    return left is right or (left is not None and java_equals(left, right))


def _in(args: list[Value], data: Value) -> bool:
    if len(args) < 2:
        return False
    if isinstance(args[1], str):
        return args[0] is not None and _to_string(args[0]) in args[1]
    if isinstance(args[1], list):
        return any(java_equals(args[0], item) if args[0] is not None else item is None for item in args[1])
    return False


def _cat(args: list[Value], data: Value) -> str:
    parts = []
    for value in args:
        if isinstance(value, Decimal) and str(value).endswith(".0"):
            parts.append(str(_int_value(value)))
        else:
            parts.append(_to_string(value))
    return "".join(parts)


def _substr(args: list[Value], data: Value) -> str:
    if not 2 <= len(args) <= 3:
        raise EvalError("substr expects 2 or 3 arguments")
    if not isinstance(args[1], Decimal):
        raise EvalError("first argument to substr must be a number")
    text = _to_string(args[0])
    start = _int_value(args[1])
    if len(args) == 2:
        end = len(text)
        if start < 0:
            start += end
        if start < 0:
            return ""
    else:
        if not isinstance(args[2], Decimal):
            raise EvalError("second argument to substr must be an integer")
        if start < 0:
            start += len(text)
        end = _int_value(args[2])
        end = end + len(text) if end < 0 else end + start
        if start > end or end > len(text):
            return ""
    if start < 0 or start > end or end > len(text):
        raise EvalError("StringIndexOutOfBoundsException")
    return text[start:end]


def _merge(args: list[Value], data: Value) -> list[Value]:
    out: list[Value] = []
    for value in args:
        if isinstance(value, list):
            out.extend(value)
        else:
            out.append(value)
    return out


def _flat_keys(data: dict[str, Any], prefix: str = "") -> list[str]:
    keys = []
    for key, value in data.items():
        if isinstance(value, dict):
            keys += _flat_keys(value, f"{prefix}{key}.")
        else:
            keys.append(f"{prefix}{key}")
    return keys


def _missing_of(options: list[Value], data: dict[str, Any]) -> list[Value]:
    provided = set(_flat_keys(data))
    out: list[Value] = []
    for option in options:
        if isinstance(option, str) and option in provided:
            continue
        if not any(java_equals(option, seen) for seen in out):
            out.append(option)
    return out


def _missing(args: list[Value], data: Value) -> Value:
    if not isinstance(data, dict):
        return args
    return _missing_of(args, data)


def _missing_some(args: list[Value], data: Value) -> Value:
    if len(args) < 2 or not isinstance(args[1], list) or not isinstance(args[0], Decimal):
        raise EvalError("missing_some expects first argument to be an integer and the second argument to be an array")
    need = _int_value(args[0])
    if not isinstance(data, dict):
        return [] if need <= 0 else args[1]
    missing = _missing_of(args[1], data)
    if len(args[1]) - len(missing) >= need:
        return []
    return missing


def _not(double: bool) -> Callable[[list[Value], Value], Value]:
    def run(args: list[Value], data: Value) -> Value:
        result = truthy(args[0]) if args else False
        return result if double else not result

    return run


def _log(args: list[Value], data: Value) -> Value:
    # The fork prints "JsonLogic: <value>" to stdout; the mock never writes client data to its output.
    if not args:
        raise EvalError("log operator requires exactly 1 argument")
    return args[0]


# -- dates and durations ------------------------------------------------------------------------


def _date(args: list[Value], data: Value) -> Value:
    if not args:
        return None
    if len(args) != 1:
        raise EvalError("'date' requires only 1 argument")
    if isinstance(args[0], str):
        try:
            return parse_date(args[0])
        except ValueError as error:
            raise EvalError(f"DateTimeParseException: {error}") from None
    return False


_XML_DURATION = re.compile(r"-?P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)D)?(T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)(?:\.\d+)?S)?)?")


def _xml_duration(text: str) -> tuple[int, int, int, int, int, int]:
    """The fields of an ``xs:duration`` (unsigned, as ``getYears()`` & co. give them; seconds truncated)."""
    match = _XML_DURATION.fullmatch(text)
    if match is None:
        raise ValueError(text)
    years, months, days, t_part, hours, minutes, seconds = match.groups()
    if t_part is not None and t_part == "T":
        raise ValueError(text)
    fields = (years, months, days, hours, minutes, seconds)
    if all(f is None for f in fields):
        raise ValueError(text)
    return tuple(int(f or 0) for f in fields)  # type: ignore[return-value]


def _plus_months(local: datetime, months: int) -> datetime:
    """``plusMonths``: the same day, or the month's last (``resolvePreviousValid``)."""
    total = local.year * 12 + local.month - 1 + months
    year, month = divmod(total, 12)
    if not 1 <= year <= 9999:
        raise OverflowError("year out of range")
    month += 1
    following = datetime(year + month // 12, month % 12 + 1, 1)
    last = (following - timedelta(days=1)).day
    return local.replace(year=year, month=month, day=min(local.day, last))


def _date_arithmetic(sign: int) -> Callable[[list[Value], Value], Value]:
    def run(args: list[Value], data: Value) -> Value:
        if not args:
            return None
        if len(args) != 2:
            raise EvalError("date arithmetic requires 2 arguments")
        try:
            if not isinstance(args[0], str) or not isinstance(args[1], str):
                return None  # ClassCastException, caught by the fork
            date = parse_date(args[0])
            years, months, days, hours, minutes, seconds = _xml_duration(args[1])
            local = _plus_months(date.local, sign * 12 * years)
            local = _plus_months(local, sign * months)
            local += sign * timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
            if not 1 <= local.year <= 9999:
                return None
            return str(JDate(local, date.nano, date.offset))
        except (ValueError, OverflowError):
            return None

    return run


@dataclass(frozen=True, slots=True)
class JDuration:
    """A ``java.time.Duration``: seconds (floored) and nanoseconds 0..999 999 999."""

    seconds: int
    nanos: int

    @classmethod
    def of_nanos(cls, nanos: int) -> JDuration:
        """The duration of ``nanos`` nanoseconds."""
        seconds, rest = divmod(nanos, 1_000_000_000)
        if not -(2**63) <= seconds < 2**63:
            raise OverflowError("long overflow")
        return cls(seconds, rest)

    def __str__(self) -> str:
        if not self.seconds and not self.nanos:
            return "PT0S"
        total = self.seconds + 1 if self.seconds < 0 and self.nanos > 0 else self.seconds
        hours = _jdiv(total, 3600)
        minutes = _jdiv(total - hours * 3600, 60)
        secs = total - hours * 3600 - minutes * 60
        text = "PT"
        if hours:
            text += f"{hours}H"
        if minutes:
            text += f"{minutes}M"
        if not secs and not self.nanos and len(text) > 2:
            return text
        text += "-0" if self.seconds < 0 and self.nanos > 0 and not secs else str(secs)
        if self.nanos:
            fraction = str(2_000_000_000 - self.nanos if self.seconds < 0 else self.nanos + 1_000_000_000)
            text += "." + fraction[1:].rstrip("0")
        return text + "S"


def _jdiv(a: int, b: int) -> int:
    """Java's ``/`` on longs: truncated toward zero."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


_JAVA_DURATION = re.compile(
    r"([-+]?)P(?:([-+]?\d+)D)?(T(?:([-+]?\d+)H)?(?:([-+]?\d+)M)?(?:([-+]?\d+)(?:[.,](\d{0,9}))?S)?)?", re.I)


def parse_duration(text: str) -> JDuration:
    """``java.time.Duration.parse``: days, hours, minutes, seconds (no years or months)."""
    match = _JAVA_DURATION.fullmatch(text)
    if match is None:
        raise ValueError(text)
    negate, days, t_part, hours, minutes, seconds, fraction = match.groups()
    if days is None and hours is None and minutes is None and seconds is None:
        raise ValueError(text)
    if t_part is not None and hours is None and minutes is None and seconds is None:
        raise ValueError(text)
    whole = int(days or 0) * 86400 + int(hours or 0) * 3600 + int(minutes or 0) * 60 + int(seconds or 0)
    nanos = int((fraction or "").ljust(9, "0") or 0) * (-1 if (seconds or "").startswith("-") else 1)
    total = whole * 1_000_000_000 + nanos
    return JDuration.of_nanos(-total if negate == "-" else total)


_UNIT_NANOS = {"NANOS": 1, "MICROS": 1000, "MILLIS": 10**6, "SECONDS": 10**9, "MINUTES": 60 * 10**9,
               "HOURS": 3600 * 10**9, "HALF_DAYS": 43200 * 10**9, "DAYS": 86400 * 10**9}
_CHRONO_UNITS = frozenset({*_UNIT_NANOS, "WEEKS", "MONTHS", "YEARS", "DECADES", "CENTURIES", "MILLENNIA", "ERAS",
                           "FOREVER"})


def _duration(key: str) -> Callable[[list[Value], Value], Value]:
    def run(args: list[Value], data: Value) -> Value:
        if not args:
            return None
        if len(args) != 2:
            raise EvalError("duration arithmetic requires 2 arguments")
        try:
            return _duration_of(key, args[0], args[1])
        except (ValueError, OverflowError, TypeError, KeyError, DecimalException):
            return None  # the fork catches every exception here and answers null

    return run


def _duration_of(key: str, first: Value, second: Value) -> Value:
    if key == "duration.between":
        if not isinstance(first, str) or not isinstance(second, str):
            raise TypeError("ClassCastException")
        return str(JDuration.of_nanos(parse_date(second).epoch_nanos() - parse_date(first).epoch_nanos()))
    if not isinstance(second, str) or second not in _CHRONO_UNITS:
        raise ValueError("No enum constant ChronoUnit")
    if key == "duration.of":
        if isinstance(first, Decimal):
            amount = first
        elif isinstance(first, str):
            amount = big_decimal(first if _jtrim(first) else "0")
        else:
            raise TypeError("ClassCastException")
        if _LONG.fullmatch(str(amount)) is None:  # Long.parseLong(amount.toString()): "1.5", "1E+3" fail
            raise ValueError("NumberFormatException")
        count = int(str(amount))
        if not -(2**63) <= count < 2**63:
            raise ValueError("NumberFormatException")
        return str(JDuration.of_nanos(count * _UNIT_NANOS[second]))  # KeyError: an estimated unit
    duration = parse_duration(first) if isinstance(first, str) else None
    if duration is None:
        raise TypeError("ClassCastException")
    if second == "MILLIS":
        seconds, nanos = duration.seconds, duration.nanos
        if seconds < 0:
            seconds, nanos = seconds + 1, nanos - 1_000_000_000
        return Decimal(seconds * 1000 + _jdiv(nanos, 1_000_000))
    divisors = {"SECONDS": 1, "MINUTES": 60, "HOURS": 3600, "DAYS": 86400}
    if second not in divisors:
        return None
    return Decimal(_jdiv(duration.seconds, divisors[second]))


_PRE_EVALUATED: dict[str, Callable[[list[Value], Value], Value]] = {
    **{key: _math(key) for key in _REDUCERS},
    **{key: _compare(key) for key in ("<", "<=", ">", ">=")},
    "==": _loose_equals,
    "!=": lambda args, data: not _loose_equals(args, data),
    "===": _strict_equals,
    "!==": lambda args, data: not _strict_equals(args, data),
    "!": _not(False),
    "!!": _not(True),
    "log": _log,
    "merge": _merge,
    "in": _in,
    "cat": _cat,
    "substr": _substr,
    "missing": _missing,
    "missing_some": _missing_some,
    "date": _date,
    "date.add": _date_arithmetic(1),
    "date.sub": _date_arithmetic(-1),
    "duration.of": _duration("duration.of"),
    "duration.between": _duration("duration.between"),
    "duration.as": _duration("duration.as"),
}
_LAZY = frozenset({"if", "?:", "and", "or", "map", "filter", "reduce", "all", "some", "none"})
OPERATORS = frozenset({*_PRE_EVALUATED, *_LAZY, "var"})
_SIZED = frozenset({"merge", "cat", "substr", "in", "missing", "missing_some"})  # cost grows with their inputs


# -- compiling ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Compiled:
    """A node ready to run, with its worst case: steps, and the longest list or string it can give."""

    run: Node
    cost: int
    size: int


def _cap(n: int) -> int:
    return min(n, 10 * STATIC_STEPS * STATIC_STEPS)


def _constant(value: Value) -> Node:
    def run(data: Value, budget: Budget) -> Value:
        return value

    return run


def _partial(key: str, data: Value) -> Value:
    """``evaluatePartialVariable``: an index of a list (a key that is no int fails), a key of a map."""
    if isinstance(data, list):
        if _INT32.fullmatch(key) is None or not -(2**31) <= int(key) < 2**31:
            raise EvalError(f"NumberFormatException: For input string: {key!r}")
        index = int(key)
        return data[index] if 0 <= index < len(data) else None
    if isinstance(data, dict):
        return data.get(key)
    return None


def _java_split(name: str) -> list[str]:
    """``name.split("\\\\.")``: trailing empty parts dropped."""
    parts = name.split(".")
    while parts and parts[-1] == "":
        parts.pop()
    return parts


def _resolve(name: str, data: Value, default: Value) -> Value:
    """The fork's ``var`` of a string key (dotted names)."""
    if name == "":
        return data
    try:
        found = _partial(name, data)
    except EvalError:
        found = None
    if found is not None:
        return found
    dot = name.find(".")
    right = name[dot + 1:]  # the fork's indexOf(".", previousIndex) finds the first dot at every level
    result = data
    for part in _java_split(name):
        result = _partial(part, result)
        if result is None:
            return default
        try:
            found = _partial(right, result)
        except EvalError:
            found = None
        if found is not None:
            return found
    return result


def _var(args: list[Compiled], data_size: int) -> Compiled:
    key = args[0] if args else Compiled(_constant(None), 1, 0)
    default = args[1] if len(args) > 1 else Compiled(_constant(None), 1, 0)
    key_run, default_run = key.run, default.run

    def run(data: Value, budget: Budget) -> Value:
        budget.spend(1)
        fallback = default_run(None, budget)
        if data is None:
            return fallback
        name = key_run(data, budget)
        if name is None:
            return data
        if isinstance(name, Decimal):
            index = _int_value(name)
            return data[index] if isinstance(data, list) and 0 <= index < len(data) else fallback
        if isinstance(name, str):
            return _resolve(name, data, fallback)
        raise EvalError("var first argument must be null, number, or string")

    # A dotted name reads a few keys per part: counted as one step, a name is at most a few parts.
    return Compiled(run, _cap(1 + key.cost + default.cost), max(data_size, default.size))


def _pre_evaluated(op: str, args: list[Compiled]) -> Compiled:
    function = _PRE_EVALUATED[op]
    runs = [a.run for a in args]
    sized = op in _SIZED

    def run(data: Value, budget: Budget) -> Value:
        budget.spend(1)
        values = [r(data, budget) for r in runs]
        if len(values) == 1 and isinstance(values[0], list):
            values = values[0]
        result = function(values, data)
        if sized and isinstance(result, (list, str)):
            budget.spend(len(result))
        return result

    sizes = [a.size for a in args]
    if op == "merge":
        size = max(sizes[0], 1) ** 2 if len(args) == 1 else sum(max(s, 1) for s in sizes)
    elif op == "cat":
        size = sum(max(s, 1) for s in sizes) + 64 * len(args)
    elif op in ("substr", "log"):
        size = sizes[0] if sizes else 0
    elif op == "missing":
        size = max(len(args), sum(sizes))
    elif op == "missing_some":
        size = sizes[1] if len(sizes) > 1 else 0
    elif op.startswith(("date", "duration")):
        size = 64
    else:
        size = 0
    cost = 1 + sum(a.cost for a in args) + (size if sized else 0) + (sum(sizes) if op in ("in", "cat") else 0)
    return Compiled(run, _cap(cost), _cap(size))


def _lazy(op: str, nodes: list[Any], data_size: int) -> Compiled:
    """The operators that evaluate their arguments themselves (``if``, ``and``, ``map`` ...)."""
    if op in ("if", "?:", "and", "or"):
        args = [_compile(n, data_size) for n in nodes]
        runs = [a.run for a in args]
        cost, size = 1 + sum(a.cost for a in args), max((a.size for a in args), default=0)
        return Compiled(_branching(op, runs), _cap(cost), size)
    expected = 3 if op == "reduce" else 2
    if len(nodes) != expected:
        raise LogicError(f"{op} expects exactly {expected} arguments")
    array = _compile(nodes[0], data_size)
    if op == "reduce":
        initial = _compile(nodes[2], data_size)
        accumulator = initial.size
        body = _compile(nodes[1], max(array.size, accumulator))
        if body.size > accumulator and array.size:
            # The accumulator grows: linearly (each item adds at most ``step``), or it is taken as unbounded.
            step = body.size - accumulator
            accumulator = _cap(accumulator + array.size * step)
            body = _compile(nodes[1], max(array.size, accumulator))
            if body.size > accumulator + step:
                accumulator = _cap(10**18)
                body = _compile(nodes[1], accumulator)
        cost = 1 + array.cost + initial.cost + array.size * body.cost
        return Compiled(_reduce(array.run, body.run, initial.run), _cap(cost), _cap(accumulator))
    body = _compile(nodes[1], array.size)
    cost = 1 + array.cost + array.size * (body.cost + 1)
    size = max(array.size, body.size) if op == "map" else array.size if op == "filter" else 0
    return Compiled(_iterate(op, array.run, body.run), _cap(cost), _cap(size))


def _branching(op: str, runs: list[Node]) -> Node:
    if op in ("if", "?:"):
        def run_if(data: Value, budget: Budget) -> Value:
            budget.spend(1)
            if not runs:
                return None
            if len(runs) == 1:
                return runs[0](data, budget)
            if len(runs) == 2:
                return runs[1](data, budget) if truthy(runs[0](data, budget)) else None
            for i in range(0, len(runs) - 1, 2):
                if truthy(runs[i](data, budget)):
                    return runs[i + 1](data, budget)
            return None if len(runs) % 2 == 0 else runs[-1](data, budget)

        return run_if
    is_and = op == "and"

    def run_logic(data: Value, budget: Budget) -> Value:
        budget.spend(1)
        if not runs:
            raise EvalError("and operator expects at least 1 argument")
        result = None
        for node in runs:
            result = node(data, budget)
            if truthy(result) != is_and:
                return result
        return result

    return run_logic


def _iterate(op: str, array_run: Node, body_run: Node) -> Node:
    def run(data: Value, budget: Budget) -> Value:
        budget.spend(1)
        items = array_run(data, budget)
        if op in ("some", "none") and items is None:
            return op == "none"
        if not isinstance(items, list):
            if op == "map":
                return []
            raise EvalError(f"first argument to {op} must be a valid array")
        budget.spend(len(items))
        if op == "map":
            return [body_run(item, budget) for item in items]
        if op == "filter":
            return [item for item in items if truthy(body_run(item, budget))]
        if op == "all":
            return bool(items) and all(truthy(body_run(item, budget)) for item in items)
        found = any(truthy(body_run(item, budget)) for item in items)
        return found if op == "some" else not found

    return run


def _reduce(array_run: Node, body_run: Node, initial_run: Node) -> Node:
    def run(data: Value, budget: Budget) -> Value:
        budget.spend(1)
        items = array_run(data, budget)
        accumulator = initial_run(data, budget)
        if not isinstance(items, list):
            return accumulator
        budget.spend(len(items))
        context: dict[str, Value] = {"accumulator": accumulator}
        for item in items:
            context["current"] = item
            context["accumulator"] = body_run(context, budget)
        return context["accumulator"]

    return run


def _compile(node: Any, data_size: int) -> Compiled:
    _WORK[-1].spend(1)
    if isinstance(node, list):
        items = [_compile(n, data_size) for n in node]
        runs = [i.run for i in items]
        if all(i.cost == 1 and not isinstance(n, (dict, list)) for i, n in zip(items, node, strict=True)):
            constant = [r(None, Budget(1)) for r in runs]

            def run_constant(data: Value, budget: Budget) -> Value:
                return list(constant)

            return Compiled(run_constant, 1 + len(items), len(items))

        def run_array(data: Value, budget: Budget) -> Value:
            return [r(data, budget) for r in runs]

        size = max([len(items), *(i.size for i in items)])
        return Compiled(run_array, _cap(1 + len(items) + sum(i.cost for i in items)), size)
    if isinstance(node, dict):
        if len(node) != 1:
            raise LogicError(f"objects must have exactly 1 key defined, found {len(node)}")
        op, raw = next(iter(node.items()))
        nodes = raw if isinstance(raw, list) else [raw]
        if op not in OPERATORS:
            raise LogicError(f"Undefined operation {op!r}")
        if op == "var":
            return _var([_compile(n, data_size) for n in nodes[:2]], data_size)
        if op in _LAZY:
            return _lazy(op, nodes, data_size)
        return _pre_evaluated(op, [_compile(n, data_size) for n in nodes])
    if isinstance(node, Decimal):
        if not bounded(node):
            raise LogicError(f"the number {str(node)[:40]} has more than {MAX_DIGITS} digits "
                             f"or an exponent beyond {MAX_EXPONENT}")
        value: Value = _fix(node)
    else:
        value = node
    return Compiled(_constant(value), 1, len(value) if isinstance(value, str) else 0)


_WORK: list[Budget] = [Budget(COMPILE_NODES)]  # the compile budget of the expression being compiled


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


@dataclass(frozen=True, slots=True)
class Program:
    """A compiled expression: call it on an event's data."""

    root: Node
    cost: int

    def __call__(self, data: Value) -> Value:
        """The expression's value for ``data``; :class:`EvalError` when the evaluation fails or runs too long."""
        try:
            return self.root(data, Budget(RUN_STEPS))
        except (DecimalException, RecursionError, OverflowError, ValueError) as error:
            raise EvalError(f"{type(error).__name__}: {error}") from None


def parse(text: str) -> Any:
    """JSON with numbers as exact decimals (as Gson's ``getAsBigDecimal``)."""
    return json.loads(text, parse_float=Decimal, parse_int=Decimal, parse_constant=_no_constant)


def compile_logic(text: str) -> Program:
    """Compile an expression (JSON text); :class:`LogicError` if Togai's evaluator would not take it or its
    worst case is over :data:`STATIC_STEPS` steps."""
    try:
        tree = parse(text)
    except (ValueError, RecursionError) as error:
        raise LogicError(f"is not JSON: {error}") from None
    _WORK.append(Budget(COMPILE_NODES))
    try:
        compiled = _compile(tree, DATA_SIZE)
    except RecursionError:
        raise LogicError("is nested too deeply") from None
    except EvalError:
        raise LogicError(f"is too complex to check (more than {COMPILE_NODES} nodes to compile)") from None
    finally:
        _WORK.pop()
    if compiled.cost > STATIC_STEPS:
        raise LogicError(f"could take more than {STATIC_STEPS} steps to evaluate (about {compiled.cost})")
    return Program(compiled.run, compiled.cost)
