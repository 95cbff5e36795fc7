"""Query parameters an operation does not take are refused (422), not ignored; so is a
parameter of one value given twice (`?q=a&q=b`), rather than one of them being used.

A misspelt filter (`?tags=vip` for `?tag=vip`, `?sort=name` for `?order_by=name`) would
otherwise be answered as if no filter had been asked for: every record the caller can
see, listed or counted as the answer to a question nobody asked.
"""

from collections import Counter
from collections.abc import Iterator
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel

from crm_platform.errors import FieldViolation, InvalidArgument

# id(route) -> the route (kept, so its id is not reused) and the query parameters it
# takes, each with whether it may be repeated (a list, such as `tag`).
_TAKEN: dict[int, tuple[APIRoute, dict[str, bool]]] = {}


async def only_known_query(request: Request) -> None:
    """A dependency of every route (`create_app`): a query parameter the route does not
    take, or one of a single value given twice, is a 422."""
    if not request.scope["query_string"]:
        return
    taken = _taken_by(request.scope["route"])
    given = Counter(name for name, _ in request.query_params.multi_items())
    violations = [_violation(name, times, taken) for name, times in sorted(given.items())]
    if any(violations):
        raise InvalidArgument([v for v in violations if v is not None])


def _violation(name: str, times: int, taken: dict[str, bool]) -> FieldViolation | None:
    if name not in taken:
        takes = f"it takes {', '.join(sorted(taken))}" if taken else "it takes none"
        return FieldViolation(f"query.{name}", f"is not a parameter here; {takes}")
    if times > 1 and not taken[name]:
        return FieldViolation(f"query.{name}", f"is given {times} times; it takes one value")
    return None


def _taken_by(route: APIRoute) -> dict[str, bool]:
    known = _TAKEN.get(id(route))
    if known is None:
        known = _TAKEN[id(route)] = (route, dict(query_params(route.dependant)))
    return known[1]


def query_params(dependant: Dependant) -> Iterator[tuple[str, bool]]:
    """The query parameters of a route's dependant, its dependencies' included: each name,
    and whether it may be repeated."""
    for param in dependant.query_params:
        annotation = param.field_info.annotation
        model = _model(annotation)
        if model is None:
            yield param.alias, _repeatable(annotation)
        else:  # a model of query parameters (`Annotated[ContactQuery, Query()]`): its fields
            for name, field in model.model_fields.items():
                yield field.alias or name, _repeatable(field.annotation)
    for sub in dependant.dependencies:
        yield from query_params(sub)


def _model(annotation: Any) -> type[BaseModel] | None:
    return (
        annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    )


def _repeatable(annotation: Any) -> bool:
    """A list (or set, tuple), also inside `Annotated[...]` or `... | None`."""
    origin = get_origin(annotation)
    if origin in (Union, UnionType, Annotated):
        return any(_repeatable(inner) for inner in get_args(annotation))
    return origin in (list, set, frozenset, tuple)
