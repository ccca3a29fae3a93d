"""The type and range of every value of a study config, checked from the annotations of its dataclasses.

One generic checker reads each field's annotation (``int``, ``float``, ``str``, ``bool``, ``list[X]``,
``dict[str, X]``, ``X | None``, ``Any``, a nested dataclass) and its range, given as
``Annotated[int, Range(1)]`` (the aliases :data:`Count`, :data:`NonNegative`, :data:`Fraction`, ...). JSON's
types are taken strictly: ``100.5`` or ``"100"`` is not an integer, ``true`` is not a number, a string is not
a list. :func:`check_types` runs on the raw JSON object before the dataclass is built; :func:`check_ranges` on
the built config once the section's own checks (which name the command-line flag) have passed.
"""
from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from dataclasses import dataclass
from typing import Annotated, Any, Union


class ConfigTypeError(ValueError):
    """A config value of the wrong type or out of its range; the message names the key and what to write."""


@dataclass(frozen=True)
class Range:
    """The closed interval a number must lie in."""

    low: float = -math.inf
    high: float = math.inf

    def describe(self) -> str:
        if math.isinf(self.high):
            return f">= {self.low:g}"
        return f"in [{self.low:g}, {self.high:g}]"


#: counts of at least one (sentences, samples, beam sizes, workers)
Count = Annotated[int, Range(1)]
#: counts where 0 means "off", "all" or "the default"
NonNegative = Annotated[int, Range(0)]
#: probabilities and ratios
Fraction = Annotated[float, Range(0.0, 1.0)]
#: non-negative reals
NonNegativeReal = Annotated[float, Range(0.0)]


def _hints(cls: type) -> dict[str, Any]:
    """The resolved annotations of a dataclass, ``Annotated`` extras kept."""
    return typing.get_type_hints(cls, include_extras=True)


def describe(annotation: Any) -> str:
    """What a value of ``annotation`` is, in words (``a list of integers``)."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Annotated:
        rng = next((a for a in args[1:] if isinstance(a, Range)), None)
        return describe(args[0]) + (f" {rng.describe()}" if rng else "")
    if annotation is Any:
        return "any value"
    if annotation is bool:
        return "true or false"
    if annotation is int:
        return "an integer"
    if annotation is float:
        return "a number"
    if annotation is str:
        return "a string"
    if origin is list:
        inner = describe(args[0]) if args else "any value"
        for one, many in (("an integer", "integers"), ("a number", "numbers"), ("a string", "strings")):
            if inner.startswith(one):  # "integers >= 0" as well as "integers"
                return "a list of " + many + inner[len(one):]
        return "a list of " + inner
    if origin is dict or annotation is dict:
        return "an object"
    if origin in (Union, types.UnionType):
        return " or ".join("null" if a is type(None) else describe(a) for a in args)
    if dataclasses.is_dataclass(annotation):
        return "an object"
    return str(annotation)


def _shown(value: Any) -> str:
    """A value as the config file spells it, with its JSON kind where that is the point."""
    kind = ("a string " if isinstance(value, str) else "a list " if isinstance(value, list)
            else "an object " if isinstance(value, dict) else "")
    return kind + json.dumps(value, default=repr)[:80]


def _hint(annotation: Any, value: Any) -> str:
    """What to write instead, where the mistake has an obvious fix."""
    base = typing.get_args(annotation)[0] if typing.get_origin(annotation) is Annotated else annotation
    if typing.get_origin(base) is list and isinstance(value, str):
        words: list[Any] = value.split()
        item = (typing.get_args(base) or (Any,))[0]
        item = typing.get_args(item)[0] if typing.get_origin(item) is Annotated else item
        if item is int and all(w.lstrip("-").isdigit() for w in words):
            words = [int(w) for w in words]
        return f"; write it as a list: {json.dumps(words)}"
    if base is int and isinstance(value, float) and value.is_integer():
        return f"; write {int(value)}"
    if base in (int, float) and isinstance(value, str):
        return "; write the number without quotes"
    return ""


class _Wrong(ConfigTypeError):
    """``<where>: expected <type>, got <value>[; <hint>]`` (worded only when raised)."""

    def __init__(self, annotation: Any, value: Any, where: str) -> None:
        super().__init__(annotation, value, where)

    def __str__(self) -> str:
        annotation, value, where = self.args
        return f"{where}: expected {describe(annotation)}, got {_shown(value)}{_hint(annotation, value)}"


def _type_ok(annotation: Any, value: Any, where: str) -> None:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    wrong = _Wrong(annotation, value, where)
    if origin is Annotated:
        try:
            _type_ok(args[0], value, where)
        except _Wrong as err:
            if err.args[2] != where:  # an element's error
                raise
            raise wrong from None  # the message names the range too
    elif annotation is Any:
        return
    elif annotation is type(None):
        if value is not None:
            raise wrong
    elif annotation is bool:
        if not isinstance(value, bool):
            raise wrong
    elif annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise wrong
    elif annotation is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise wrong
    elif annotation is str:
        if not isinstance(value, str):
            raise wrong
    elif origin is list:
        if not isinstance(value, list):
            raise wrong
        for i, item in enumerate(value):
            _type_ok(args[0] if args else Any, item, f"{where}[{i}]")
    elif origin is dict or annotation is dict:
        if not isinstance(value, dict):
            raise wrong
        for key, item in value.items():
            _type_ok(args[1] if args else Any, item, f"{where}.{key}")
    elif origin in (Union, types.UnionType):
        for option in args:
            try:
                _type_ok(option, value, where)
                return
            except ConfigTypeError:
                continue
        raise wrong
    elif dataclasses.is_dataclass(annotation):
        if isinstance(value, annotation):
            return  # built, so checked already
        if not isinstance(value, dict):
            raise wrong
        check_types(annotation, value, where)
    else:  # pragma: no cover - an annotation this checker does not know is a bug in the config's dataclasses
        raise TypeError(f"{where}: cannot check values of type {annotation!r}")


def check_types(cls: type, raw: dict[str, Any], where: str) -> None:
    """Raises :class:`ConfigTypeError` naming the first value of ``raw`` whose type does not match the field of
    dataclass ``cls`` it sets (keys that are not fields are left to the caller)."""
    hints = _hints(cls)
    for key, value in raw.items():
        if key in hints:
            _type_ok(hints[key], value, f"{where}.{key}" if where else key)


def _range_ok(annotation: Any, value: Any, where: str) -> None:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Annotated:
        for extra in args[1:]:
            if isinstance(extra, Range) and not extra.low <= value <= extra.high:
                raise ConfigTypeError(f"{where}: must be {describe(annotation)}, got {json.dumps(value)}")
        _range_ok(args[0], value, where)
    elif origin is list and args:
        for i, item in enumerate(value):
            _range_ok(args[0], item, f"{where}[{i}]")
    elif (origin is dict and len(args) == 2) and isinstance(value, dict):
        for key, item in value.items():
            _range_ok(args[1], item, f"{where}.{key}")
    elif origin in (Union, types.UnionType):
        for option in args:
            if option is not type(None) and value is not None:
                _range_ok(option, value, where)
    elif dataclasses.is_dataclass(annotation) and dataclasses.is_dataclass(value):
        check_ranges(value, where)


def check_ranges(obj: Any, where: str = "", cls: type | None = None) -> None:
    """Raises :class:`ConfigTypeError` naming the first value out of the range its annotation gives; ``obj`` is a
    dataclass instance, or a dict checked against the fields of ``cls``."""
    cls = cls or type(obj)
    hints = _hints(cls)
    items = obj.items() if isinstance(obj, dict) else ((f.name, getattr(obj, f.name)) for f in dataclasses.fields(obj))
    for key, value in items:
        if key in hints:
            _range_ok(hints[key], value, f"{where}.{key}" if where else key)


def check(cls: type, raw: dict[str, Any], where: str) -> None:
    """Types and ranges of a section given as a dict (e.g. ``distill``) against the fields of ``cls``."""
    check_types(cls, raw, where)
    check_ranges(raw, where, cls)
