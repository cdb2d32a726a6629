"""Wrap a method with wrapt, and take the wrapper out again whatever was stacked on top of it.

Other instrumentations (opentelemetry-instrumentation-requests, for one) may wrap the same
method after us and be uninstrumented in any order. ``remove()`` therefore:

- restores the original if our wrapper is still the attribute;
- otherwise splices it out of the chain by pointing the outer wrapper's ``__wrapped__`` at
  the original (which is what that instrumentation restores when it is removed), and in
  every case turns our wrapper into a pass-through at once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import wrapt

WrapperFunction = Callable[[Callable[..., Any], Any, tuple[Any, ...], dict[str, Any]], Any]

_MAX_CHAIN = 16


class _Switch:
    """The on/off state of one applied wrapper (each ``apply`` gets its own)."""

    __slots__ = ("on",)

    def __init__(self) -> None:
        self.on = True


class Patch:
    """One method of one class, wrapped by ``wrapper(wrapped, instance, args, kwargs)``."""

    def __init__(self, owner: type, name: str, wrapper: WrapperFunction) -> None:
        self.owner = owner
        self.name = name
        self.wrapper = wrapper
        self._original: Any = None
        self._proxy: Any = None
        self._switch: _Switch | None = None

    @property
    def applied(self) -> bool:
        return self._switch is not None and self._switch.on

    def apply(self) -> None:
        if self.applied:
            return
        original = self.owner.__dict__[self.name]
        switch = _Switch()
        wrapper = self.wrapper

        def switched(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            if not switch.on:
                return wrapped(*args, **kwargs)
            return wrapper(wrapped, instance, args, kwargs)

        proxy = wrapt.FunctionWrapper(original, switched)
        setattr(self.owner, self.name, proxy)
        self._original, self._proxy, self._switch = original, proxy, switch

    def remove(self) -> None:
        if self._switch is None:
            return
        self._switch.on = False
        current = self.owner.__dict__.get(self.name)
        if current is self._proxy:
            setattr(self.owner, self.name, self._original)
        else:
            self._splice(current)
        self._original = self._proxy = self._switch = None

    def _splice(self, outer: Any) -> None:
        for _ in range(_MAX_CHAIN):
            if outer is None:
                return
            inner = getattr(outer, "__wrapped__", None)
            if inner is self._proxy:
                # If it cannot be re-pointed, our wrapper stays in the chain, switched off.
                with contextlib.suppress(AttributeError, TypeError):
                    outer.__wrapped__ = self._original
                return
            outer = inner
