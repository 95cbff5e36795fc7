"""The whole suite, started once per session by the devstack launcher, as `make run` does."""

import random
import shutil
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from crm_platform.devstack import launcher
from crm_platform.devstack.launcher import RunningStack
from crm_platform.devstack.stack import PORT_OFFSET_ENV, STATE_DIR_ENV, StackConfig
from crm_platform.testing.plugin import make_state_dir, once, register_cleanup
from crm_platform.testing.ports import port_is_free


def _free_port_offset() -> int:
    # Away from the default ports, so a developer's `make up` stack can keep running.
    for _ in range(50):
        offset = 1000 + random.randint(0, 500)
        config = StackConfig.from_env({PORT_OFFSET_ENV: str(offset), STATE_DIR_ENV: "unused"})
        if all(port_is_free(port) for port in config.all_ports()):
            return offset
    raise RuntimeError("no free port offset for the e2e stack")


@pytest.fixture(scope="session")
def stack(request: pytest.FixtureRequest) -> Iterator[RunningStack]:
    root = make_state_dir("crm-e2e-")
    with pytest.MonkeyPatch.context() as env:
        env.setenv(STATE_DIR_ENV, str(root / "devstack"))
        env.setenv(PORT_OFFSET_ENV, str(_free_port_offset()))
        # The tests call as one admin, whose shared budget (1,200 a minute by default) the
        # suite can spend in a fast minute; the limiter has tests of its own.
        env.setenv("CRM_GATEWAY_RATE_LIMIT_PER_MINUTE", "1000000")
        config = StackConfig.from_env()
        stop = once(lambda: launcher.down(config))
        # Also on SIGTERM or a crash of the session, not only at fixture teardown.
        register_cleanup(stop)
        try:
            yield RunningStack(config, launcher.up(config))
        finally:
            stop()
            if request.session.testsfailed:
                # The services' logs and traces are what explains a failure.
                print(f"\ne2e stack state kept in {config.state_dir}")
            else:
                shutil.rmtree(root, ignore_errors=True)


def login(client: httpx.Client, stack: Any) -> dict[str, str]:
    reply = client.post(
        "/api/v1/auth/token",
        data={"username": stack.info.admin_email, "password": stack.info.admin_password},
    )
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["token_type"] == "bearer"
    return {"Authorization": f"Bearer {body['access_token']}"}


@pytest.fixture(scope="module")
def client(stack: Any) -> httpx.Client:
    with httpx.Client(base_url=stack.info.gateway_url, timeout=10) as client:
        yield client


@pytest.fixture(scope="module")
def auth(client: httpx.Client, stack: Any) -> dict[str, str]:
    return login(client, stack)
