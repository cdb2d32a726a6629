"""Match a concrete 8x8 request path to the documented operation it calls.

``/api/v1/accounts/acme/contacts/batches/createContacts`` is 8x8's ``batch-upload-contacts``, template
``/api/v1/accounts/{accountId}/contacts/batches/createContacts``. The routes come from 8x8's OpenAPI
specifications (``products/routes_table.py``); matching is method-aware and tries literal segments before
placeholders, so ``contacts/batches/createContacts`` never becomes ``contacts/{contactId}/{id}``.

A template only ever holds the route's own literals and placeholder names: no id, phone number or other
concrete segment of the path reaches it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Route:
    """One documented operation."""

    product: str
    method: str
    template: str
    operation_id: str
    hosts: tuple[str, ...] = ()  # the operation's own servers, when it has some (else its product's)

    @property
    def segments(self) -> tuple[str, ...]:
        return tuple(segment for segment in self.template.split("/") if segment)


def is_placeholder(segment: str) -> bool:
    return segment.startswith("{") and segment.endswith("}")


@dataclass
class _Node:
    literals: dict[str, _Node] = field(default_factory=dict)
    placeholder: _Node | None = None
    routes: list[Route] = field(default_factory=list)  # the routes whose template ends here


@dataclass(frozen=True)
class RouteMatch:
    """A path matched to a route: the route, and the path's segment for each placeholder, in order."""

    route: Route
    values: tuple[tuple[str, str], ...]  # (placeholder, the concrete segment)
    indexes: tuple[int, ...]  # where each value stands in ``path.split("/")``
    products: frozenset[str]  # the products of every route that matches as well (one path, several products)


class RouteTable:
    """The routes of one or more products, as a tree of path segments."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self._root = _Node()
        for route in routes:
            node = self._root
            for segment in route.segments:
                if is_placeholder(segment):
                    if node.placeholder is None:
                        node.placeholder = _Node()  # any name: routes of other products may name it otherwise
                    node = node.placeholder
                else:
                    node = node.literals.setdefault(segment, _Node())
            node.routes.append(route)

    def match(self, method: str, path: str) -> RouteMatch | None:
        """The route ``method path`` calls: a route of that method if one matches, else one of any method whose
        path matches (an undocumented method on a documented path), else None. Empty segments are ignored."""
        segments = [(index, segment) for index, segment in enumerate(path.split("/")) if segment]
        fallback: RouteMatch | None = None
        for node, captured in self._walk(self._root, segments, 0, ()):
            same_method = [route for route in node.routes if route.method == method]
            if same_method:
                return _match(same_method, captured)
            if fallback is None:
                fallback = _match(node.routes, captured)
        return fallback

    def _walk(
        self, node: _Node, segments: list[tuple[int, str]], position: int, captured: tuple[tuple[int, str], ...]
    ) -> Iterator[tuple[_Node, tuple[tuple[int, str], ...]]]:
        """Every node where the path ends on a route, literal segments tried before placeholders."""
        if position == len(segments):
            if node.routes:
                yield node, captured
            return
        index, segment = segments[position]
        literal = node.literals.get(segment)
        if literal is not None:
            yield from self._walk(literal, segments, position + 1, captured)
        placeholder = node.placeholder
        if placeholder is not None:
            yield from self._walk(placeholder, segments, position + 1, (*captured, (index, segment)))


def _match(routes: list[Route], captured: tuple[tuple[int, str], ...]) -> RouteMatch:
    route = routes[0]
    names = [segment for segment in route.segments if is_placeholder(segment)]
    values = tuple(zip(names, (value for _, value in captured), strict=True))
    return RouteMatch(route, values, tuple(index for index, _ in captured), frozenset(r.product for r in routes))
