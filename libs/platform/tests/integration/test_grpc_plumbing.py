"""The platform's gRPC server and client on a real port: principal, error mapping,
deadlines and retries, with a tiny raw-bytes service instead of a business one."""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import grpc
import pytest
from sqlalchemy.exc import OperationalError

from crm_platform import errors
from crm_platform.grpc.client import create_channel
from crm_platform.grpc.server import GrpcServer
from crm_platform.testing.ports import free_port
from crm_platform.testing.services import TEST_SECRET, call_metadata, principal

pytestmark = pytest.mark.integration

Behaviour = Callable[[bytes, grpc.aio.ServicerContext], Awaitable[bytes]]
WHO = principal(objects=["thing"])


class Scripted:
    """Answers each call with the next behaviour in the script (the last one repeats)."""

    def __init__(self) -> None:
        self.script: list[Behaviour] = []
        self.calls = 0

    async def __call__(self, request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        behaviour = self.script[min(self.calls, len(self.script) - 1)]
        self.calls += 1
        return await behaviour(request, context)


@pytest.fixture
async def served() -> AsyncIterator[tuple[Scripted, grpc.aio.Channel]]:
    scripted = Scripted()
    handler = grpc.method_handlers_generic_handler(
        "test.Things", {"Call": grpc.unary_unary_rpc_method_handler(scripted)}
    )
    server = GrpcServer(host="127.0.0.1", port=free_port(), principal_secret=TEST_SECRET)
    server.register(
        [(lambda _, srv: srv.add_generic_rpc_handlers((handler,)), None, "test.Things")]
    )
    await server.start()
    channel = create_channel(server.address, default_timeout=1.0)
    try:
        yield scripted, channel
    finally:
        await channel.close()
        await server.stop(0)


async def call(channel: grpc.aio.Channel, **kwargs: Any) -> bytes:
    method = channel.unary_unary("/test.Things/Call")
    return bytes(await method(b"ping", metadata=call_metadata(WHO), **kwargs))


def raising(error: BaseException) -> Behaviour:
    async def behaviour(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        raise error

    return behaviour


async def echo(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    return request


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (errors.NotFound("gone"), grpc.StatusCode.NOT_FOUND),
        (errors.StaleVersion("old"), grpc.StatusCode.FAILED_PRECONDITION),
        (errors.PermissionDenied("no"), grpc.StatusCode.PERMISSION_DENIED),
        (OperationalError("SELECT 1", {}, ConnectionRefusedError()), grpc.StatusCode.UNAVAILABLE),
        (  # two transactions deadlocked: this one lost, the client may retry
            OperationalError("UPDATE", {}, asyncpg.exceptions.DeadlockDetectedError("deadlock")),
            grpc.StatusCode.ABORTED,
        ),
        (RuntimeError("a bug"), grpc.StatusCode.INTERNAL),
    ],
)
async def test_errors_map_to_status_codes(
    served: tuple[Scripted, grpc.aio.Channel], error: BaseException, code: grpc.StatusCode
) -> None:
    scripted, channel = served
    scripted.script = [raising(error)]
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call(channel, wait_for_ready=True)
    assert raised.value.code() == code
    if code is grpc.StatusCode.INTERNAL:
        assert "a bug" not in (raised.value.details() or "")  # no internals leak out


async def test_unavailable_is_retried_by_the_client(
    served: tuple[Scripted, grpc.aio.Channel],
) -> None:
    scripted, channel = served

    async def unavailable(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        await context.abort(grpc.StatusCode.UNAVAILABLE, "busy")
        raise AssertionError("abort raises")

    scripted.script = [unavailable, unavailable, echo]
    assert await call(channel) == b"ping"
    assert scripted.calls == 3


async def test_every_call_gets_the_default_deadline(
    served: tuple[Scripted, grpc.aio.Channel],
) -> None:
    scripted, channel = served

    async def slow(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        await asyncio.sleep(5)
        return request

    scripted.script = [slow]
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call(channel)  # no timeout given: the channel's 1 s default applies
    assert raised.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED


async def test_calls_without_a_valid_principal_are_refused(
    served: tuple[Scripted, grpc.aio.Channel],
) -> None:
    scripted, channel = served
    scripted.script = [echo]
    method = channel.unary_unary("/test.Things/Call")
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await method(b"ping")
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
    forged = call_metadata(WHO, secret="x" * 40)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await method(b"ping", metadata=forged)
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert scripted.calls == 0
