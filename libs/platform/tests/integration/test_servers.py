"""The servers the fixtures and the devstack start are real, and keep their data across restarts."""

from pathlib import Path

import asyncpg
import nats
import pytest
from nats.js.api import StreamConfig

from crm_platform.testing.nats import NatsServer
from crm_platform.testing.plugin import make_state_dir
from crm_platform.testing.ports import free_port
from crm_platform.testing.postgres import PostgresServer

pytestmark = pytest.mark.integration


def _asyncpg_dsn(sqlalchemy_url: str) -> str:
    return sqlalchemy_url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def test_database_url_is_a_fresh_database_owned_by_a_plain_role(database_url: str) -> None:
    conn = await asyncpg.connect(_asyncpg_dsn(database_url))
    try:
        assert await conn.fetchval("SELECT 1") == 1
        assert await conn.fetchval("SELECT count(*) FROM pg_tables WHERE schemaname='public'") == 0
        assert (
            await conn.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            is False
        )
        # The owner can create its schema, as migrations will.
        await conn.execute("CREATE TABLE t (id int PRIMARY KEY)")
    finally:
        await conn.close()


async def test_each_test_gets_another_database(database_url: str) -> None:
    conn = await asyncpg.connect(_asyncpg_dsn(database_url))
    try:
        # The table the previous test created is not here.
        assert await conn.fetchval("SELECT to_regclass('public.t')") is None
    finally:
        await conn.close()


async def test_nats_has_jetstream(nats_url: str) -> None:
    nc = await nats.connect(nats_url)
    try:
        info = await nc.jetstream().account_info()
        assert info.limits is not None
    finally:
        await nc.close()


async def test_nats_kill_and_restart_keeps_streams(nats_server: NatsServer, nats_url: str) -> None:
    nc = await nats.connect(nats_url, max_reconnect_attempts=0)
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name="SURVIVOR", subjects=["survivor.>"]))
    ack = await js.publish("survivor.one", b"payload")
    await nc.close()

    nats_server.kill()
    assert not nats_server.is_running()
    nats_server.start()

    nc = await nats.connect(nats_server.url)
    try:
        js = nc.jetstream()
        stream = await js.stream_info("SURVIVOR")
        assert stream.state.messages == 1
        message = await js.get_msg("SURVIVOR", ack.seq)
        assert message.data == b"payload"
    finally:
        await nc.close()


async def test_postgres_stop_and_start_keeps_data_and_its_settings() -> None:
    # Its own durable server: stopping the session one would disturb other tests.
    root = make_state_dir("crm-test-pg-restart-")
    server = PostgresServer(root / "data", free_port(), durable=True, shared_buffers_mb=160)
    try:
        server.start()
        await server.create_database("keep", owner="keeper", password="pw")
        dsn = _asyncpg_dsn(server.url("keep", user="keeper", password="pw"))
        conn = await asyncpg.connect(dsn)
        await conn.execute("CREATE TABLE kept (v text); INSERT INTO kept VALUES ('still here')")
        await conn.close()

        server.stop()
        assert not server.is_running()
        server.start()

        conn = await asyncpg.connect(dsn)
        try:
            assert await conn.fetchval("SELECT v FROM kept") == "still here"
            assert await conn.fetchval("SHOW shared_buffers") == "160MB"
        finally:
            await conn.close()
        # Repeating the set-up is harmless: the launcher does it on every `up`.
        await server.create_database("keep", owner="keeper", password="pw")
    finally:
        server.stop()
        _remove(root)


async def test_postgres_recovers_after_kill(postgres_server: PostgresServer) -> None:
    name = "crash_survivor"
    await postgres_server.create_database(name, owner=name, password="pw")
    dsn = _asyncpg_dsn(postgres_server.url(name, user=name, password="pw"))
    conn = await asyncpg.connect(dsn)
    await conn.execute("CREATE TABLE t (v int); INSERT INTO t VALUES (1)")
    await conn.close()

    postgres_server.kill()
    assert not postgres_server.is_running()
    postgres_server.start()

    conn = await asyncpg.connect(dsn)
    try:
        assert await conn.fetchval("SELECT count(*) FROM t") == 1
    finally:
        await conn.close()
        await postgres_server.drop_database(name, drop_role=name)


def _remove(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)
