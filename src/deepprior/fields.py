"""What every config field says about itself: its help, its command-line flag, how text becomes its value, and
its allowed values.

The configs in :mod:`deepprior.config` declare each field with :func:`setting`; the command line builds its
options from this metadata, :func:`check_choices` validates against the same allowed values, and
:func:`documented` writes the numpydoc ``Attributes`` section of the class from the same help. So a setting is
described once. Nothing here imports a front end: a flag is data the CLI reads.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Callable

from .errors import InputError


@dataclass(frozen=True)
class Meta:
    """The metadata of one config field (see :func:`setting`)."""

    help: str
    parse: Callable[[str], Any] | None  # text -> value; None: an on/off switch
    flag: str | None  # None: no command-line option (a front end sets it another way)
    off: str | None  # the switch's "off" flag
    choices: tuple[str, ...] | None
    metavar: str | None


def setting(default: Any, help: str, *, parse: Callable[[str], Any] | None = None, flag: str | None = "",
            off: str | None = None, choices: tuple[str, ...] | None = None, metavar: str | None = None) -> Any:
    """A dataclass field with its :class:`Meta`.

    ``flag=""`` derives the flag from the field name (``stop_patience`` -> ``--stop-patience``); ``flag=None``
    gives the field no option of its own. ``parse=None`` makes the field a switch (``--x/--no-x``, or ``off``).
    ``choices`` are the allowed values (for a tuple field: of each element).
    """
    meta = Meta(help=help, parse=parse, flag=flag, off=off, choices=choices, metavar=metavar)
    return dataclasses.field(default=default, metadata={"deepprior": meta})


def meta(f: dataclasses.Field) -> Meta:
    """The :class:`Meta` of a field made with :func:`setting`, with its flags filled in."""
    m: Meta = f.metadata["deepprior"]
    if m.flag == "":
        flag = "--" + f.name.replace("_", "-")
        off = m.off or (None if m.parse else "--no-" + flag[2:])
        m = dataclasses.replace(m, flag=flag, off=off)
    return m


def check_choices(cfg: Any) -> None:
    """Raise :class:`InputError` for a field whose value (or one of its values) is not among its choices."""
    for f in dataclasses.fields(cfg):
        allowed = meta(f).choices
        value = getattr(cfg, f.name)
        for v in value if isinstance(value, tuple) else (value,):
            if allowed is not None and v not in allowed:
                raise InputError(f"{f.name} must be one of {', '.join(allowed)}; got {v!r}", setting=f.name)


def documented(cls: type) -> type:
    """Append a numpydoc ``Attributes`` section, built from the fields' help, to the class docstring."""
    lines = ["", "Attributes", "----------"]
    for f in dataclasses.fields(cls):
        m = meta(f)
        lines.append(f"{f.name} : default {f.default!r}")
        lines.append(f"    {m.help}")
    cls.__doc__ = (cls.__doc__ or "").rstrip() + "\n" + "\n    ".join(lines) + "\n"
    return cls


# Parsers: text (a command-line value) -> the field's value. They raise ValueError with a message that says
# what was expected; the CLI shows it as a usage error.


def ints(text: str) -> tuple[int, ...]:
    """``"128,64,32"`` or ``"128x5"`` (a value repeated per scale)."""
    try:
        if "x" in text:
            value, count = text.split("x")
            return (int(value),) * int(count)
        return tuple(int(v) for v in text.split(","))
    except ValueError:
        raise ValueError(f"expected a list like 128,128,64 or 128x5, got {text!r}") from None


def two_floats(text: str) -> tuple[float, float]:
    """``"0.9,0.999"``."""
    try:
        a, b = (float(v) for v in text.split(","))
    except ValueError:
        raise ValueError(f"expected two numbers like 0.9,0.999, got {text!r}") from None
    return a, b


def modes(text: str) -> str | tuple[str, ...]:
    """One mode (``"bilinear"``) or one per scale (``"nearest,nearest,bilinear"``)."""
    parts = tuple(p.strip() for p in text.split(","))
    return parts[0] if len(parts) == 1 else parts


def number(kind: type) -> Callable[[str], Any]:
    """An int or float parser with a message that names what was expected."""
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise ValueError(f"expected {'a whole number' if kind is int else 'a number'}, got {text!r}") from None
        if kind is float and not math.isfinite(value):
            raise ValueError(f"expected a finite number, got {text!r}")
        return value
    parse.__name__ = kind.__name__
    return parse


def over_255(text: str) -> float:
    """A value on the 0-255 scale of 8-bit images, as a fraction of 1 (``"25"`` -> 25 / 255)."""
    return number(float)(text) / 255.0


def word(text: str) -> str:
    """The text itself (the choices check it)."""
    return text


INT, FLOAT = number(int), number(float)
