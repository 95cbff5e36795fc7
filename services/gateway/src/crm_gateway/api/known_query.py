"""Query parameters an operation does not take are refused (422), not ignored.

A misspelt filter (`?tags=vip` for `?tag=vip`, `?sort=name` for `?order_by=name`) would
otherwise be answered as if no filter had been asked for: every record the caller can
see, listed or counted as the answer to a question nobody asked.
"""

from collections.abc import Iterator
from typing import Any

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel

from crm_platform.errors import FieldViolation, InvalidArgument

# id(route) -> the route (kept, so its id is not reused) and the query parameters it takes.
_TAKEN: dict[int, tuple[APIRoute, frozenset[str]]] = {}


async def only_known_query(request: Request) -> None:
    """A dependency of every route (`create_app`): unknown query parameters are a 422."""
    if not request.scope["query_string"]:
        return
    taken = _taken_by(request.scope["route"])
    unknown = sorted(set(request.query_params) - taken)
    if unknown:
        takes = f"it takes {', '.join(sorted(taken))}" if taken else "it takes none"
        raise InvalidArgument(
            [
                FieldViolation(f"query.{name}", f"is not a parameter here; {takes}")
                for name in unknown
            ]
        )


def _taken_by(route: APIRoute) -> frozenset[str]:
    known = _TAKEN.get(id(route))
    if known is None:
        known = _TAKEN[id(route)] = (route, frozenset(query_names(route.dependant)))
    return known[1]


def query_names(dependant: Dependant) -> Iterator[str]:
    """The query parameters of a route's dependant, its dependencies' included."""
    for param in dependant.query_params:
        model = _model(param.field_info.annotation)
        if model is None:
            yield param.alias
        else:  # a model of query parameters (`Annotated[ContactQuery, Query()]`): its fields
            yield from (field.alias or name for name, field in model.model_fields.items())
    for sub in dependant.dependencies:
        yield from query_names(sub)


def _model(annotation: Any) -> type[BaseModel] | None:
    return (
        annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    )
