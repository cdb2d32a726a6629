"""Wrap a library method with wrapt, directly around the library's own function.

Other instrumentations wrap the same methods (opentelemetry-instrumentation-requests replaces
``Session.send`` with a function that closes over the previous one) and assume they are on
top when they are removed. To keep every instrument/uninstrument order correct, otel-8x8
always sits *innermost*, right around the library's function:

- ``apply()`` walks down the chain of wrappers already installed (wrapt proxies, or functions
  whose ``__wrapped__`` is also held in their closure) and re-points the innermost one at our
  wrapper. Whatever wraps the method later wraps on top of us, as usual.
- ``remove()`` re-points whatever calls our wrapper back at the library's function (or
  restores the attribute when nothing else is installed), and switches our wrapper off at once
  in case a reference to it survives somewhere.

So another instrumentation that removes itself restores exactly what it found, and the
nesting is the same whatever order things were installed in.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import wrapt

from .compat import PROXY_BASE, bound_wrapper_parent

WrapperFunction = Callable[[Callable[..., Any], Any, tuple[Any, ...], dict[str, Any]], Any]

_MAX_CHAIN = 16


class Switch:
    """An on/off state: of one applied wrapper (each ``apply`` gets its own), of one ``instrument()``'s import hooks."""

    __slots__ = ("on",)

    def __init__(self) -> None:
        self.on = True


class Patch:
    """One method of one class, wrapped by ``wrapper(wrapped, instance, args, kwargs)``."""

    def __init__(self, owner: type, name: str, wrapper: WrapperFunction) -> None:
        # The class that defines the method: another instrumentation may have replaced the public
        # class by a subclass (opentelemetry-instrumentation-httpx did so with httpx.Client).
        self.owner = next((cls for cls in owner.__mro__ if name in cls.__dict__), owner)
        self.name = name
        self.wrapper = wrapper
        self._original: Any = None
        self._proxy: Any = None
        self._switch: Switch | None = None

    def __repr__(self) -> str:
        return f"{self.owner.__module__}.{self.owner.__qualname__}.{self.name}"

    @property
    def applied(self) -> bool:
        return self._switch is not None and self._switch.on

    def apply(self) -> None:
        if self.applied:
            return
        switch = Switch()
        wrapper = self.wrapper

        def switched(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            if not switch.on:
                return wrapped(*args, **kwargs)
            return wrapper(wrapped, instance, args, kwargs)

        top = self.owner.__dict__[self.name]
        holder, innermost = self._innermost(top)
        proxy = wrapt.FunctionWrapper(innermost, switched)
        if holder is None or not self._repoint(holder, proxy):
            innermost = top
            proxy = wrapt.FunctionWrapper(top, switched)
            setattr(self.owner, self.name, proxy)
        self._original, self._proxy, self._switch = innermost, proxy, switch

    def remove(self) -> None:
        if self._switch is None:
            return
        self._switch.on = False
        node = self.owner.__dict__.get(self.name)
        if self._is_ours(node):  # ours on top (or put back on top by another instrumentation's removal)
            setattr(self.owner, self.name, self._original)
        else:
            for _ in range(_MAX_CHAIN):
                inner = getattr(node, "__wrapped__", None)
                if inner is None:
                    break
                if self._is_ours(inner):
                    self._repoint(node, self._original)
                    break
                node = inner
        self._original = self._proxy = self._switch = None

    def _is_ours(self, obj: Any) -> bool:
        # Reading the method through the class gives wrapt's bound wrapper, whose parent is our proxy.
        return obj is not None and (obj is self._proxy or bound_wrapper_parent(obj) is self._proxy)

    @staticmethod
    def _innermost(top: Any) -> tuple[Any, Any]:
        """(the wrapper that calls the library's function, that function); holder None if unwrapped."""
        holder, node = None, top
        for _ in range(_MAX_CHAIN):
            inner = getattr(node, "__wrapped__", None)
            if inner is None or not (isinstance(node, PROXY_BASE) or _closure_cells(node, inner)):
                break
            holder, node = node, inner
        return holder, node

    def _repoint(self, holder: Any, new: Any) -> bool:
        """Make ``holder`` call ``new`` instead of what it calls now. False if it cannot be done."""
        old = holder.__wrapped__
        if isinstance(holder, PROXY_BASE):
            with contextlib.suppress(AttributeError, TypeError):
                holder.__wrapped__ = new
                return True
            return False
        cells = _closure_cells(holder, old)
        if not cells:
            return False
        # A closure called the function as read through the class; give it the same kind of object.
        as_read = new.__get__(None, self.owner) if isinstance(new, wrapt.FunctionWrapper) else new
        try:
            for cell in cells:
                cell.cell_contents = as_read
            holder.__wrapped__ = as_read
        except (AttributeError, TypeError, ValueError):
            return False
        return True


def _closure_cells(function: Any, value: Any) -> list[Any]:
    """The cells of ``function``'s closure that hold exactly ``value``."""
    cells = []
    for cell in getattr(function, "__closure__", None) or ():
        with contextlib.suppress(ValueError):  # an empty cell
            if cell.cell_contents is value:
                cells.append(cell)
    return cells
