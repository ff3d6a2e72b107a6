"""Option values converted without pydantic, so a one-check gate does not pay for importing it.

typer 0.29 converts every option that is not a plain flag through a pydantic ``TypeAdapter`` built on
first use, and importing pydantic is about 0.14 s: a third of a one-check gate's whole process
(bench/cold_start.py). The options of spark are strings, numbers, flags, paths, choices and lists of
strings, which are converted here the way typer does it, with the same rules and exit code 2. Any other
type keeps typer's own conversion, and so does every option under a typer without these internals
(before 0.29 typer did not use pydantic at all): slower, never wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, get_args, get_origin

import typer
from typer._click import Parameter
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

try:
    from typer._click import Context
    from typer._coercion import RuntimeParam
    from typer._param_types import coerce_cli_choice, coerce_cli_path

    _TYPER_USES_PYDANTIC = True
except ImportError:  # pragma: no cover - a typer that converts without pydantic needs none of this
    RuntimeParam = object  # type: ignore[assignment,misc]
    _TYPER_USES_PYDANTIC = False

# What pydantic reads as a boolean (typer hands it an environment value such as SPARK_EXIT_ON_FAIL=1).
_TRUE = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE = frozenset({"", "0", "off", "f", "false", "n", "no"})


def _to_bool(value: Any, param: Any) -> bool:
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in _TRUE or word in _FALSE:
        return word in _TRUE
    raise ValueError(f"{value!r} is not a boolean (1/0, true/false, yes/no, on/off)")


def _to_int(value: Any, param: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{value!r} is not a whole number") from None


def _to_float(value: Any, param: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{value!r} is not a number") from None


def _to_str(value: Any, param: Any) -> str:
    return str(value)


_CONVERTERS: dict[Any, Callable[[Any, Any], Any]] = {
    bool: _to_bool,
    int: _to_int,
    float: _to_float,
    str: _to_str,
}


@dataclass(frozen=True)
class _PlainParam(RuntimeParam):
    """typer's conversion contract for one option, done without pydantic."""

    def _coerce_value(self, value: Any, param: Any, ctx: Context) -> Any:
        annotation: Any = self.annotation
        try:
            if get_origin(annotation) is list:
                (item,) = get_args(annotation)
                return [self._leaf(item, one, param, ctx) for one in value]
            return self._leaf(annotation, value, param, ctx)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), ctx=ctx, param=param) from None

    def _leaf(self, annotation: Any, value: Any, param: Any, ctx: Context) -> Any:
        if isinstance(annotation, type) and issubclass(annotation, Enum):
            choices = list(annotation)
            case_sensitive = self.parameter_info.case_sensitive
            return coerce_cli_choice(value, choices=choices, case_sensitive=case_sensitive, ctx=ctx)
        if annotation is Path:
            # A Path given as a Path skips typer's pydantic step; typer still applies exists= and the like.
            path = value if isinstance(value, Path) else Path(value)
            return coerce_cli_path(path, self.parameter_info, path_type=Path, param=param, ctx=ctx)
        return _CONVERTERS[annotation](value, param)


def _convertible(annotation: Any) -> bool:
    if get_origin(annotation) is list:
        (item,) = get_args(annotation)
        return _convertible(item)
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return True
    return annotation is Path or annotation in _CONVERTERS


def _convert_plainly(params: list[Parameter]) -> None:
    for param in params:
        if not _TYPER_USES_PYDANTIC or not isinstance(param, TyperOption | TyperArgument):
            continue
        descriptor = param.type_descriptor
        if param._runtime_param is None and _convertible(descriptor.annotation):
            param._runtime_param = _PlainParam(
                annotation=descriptor.annotation, parameter_info=descriptor.parameter_info
            )


class PlainCommand(TyperCommand):
    """A command whose options are converted by ``_PlainParam`` (see the module's docstring)."""

    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        _convert_plainly(self.get_params(ctx))
        return super().parse_args(ctx, args)


class PlainGroup(TyperGroup):
    """A command group whose own options (``spark --version``) are converted by ``_PlainParam``."""

    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        _convert_plainly(self.get_params(ctx))
        return super().parse_args(ctx, args)
