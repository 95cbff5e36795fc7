import socket

import pytest

from crm_platform.devstack.errors import StackError
from crm_platform.devstack.services import require_free_ports
from crm_platform.devstack.stack import ServiceSpec
from crm_platform.testing.ports import free_port


def test_a_service_is_not_started_on_a_port_another_process_listens_on() -> None:
    grpc_port, metrics_port = free_port(), free_port()
    spec = ServiceSpec("customer", grpc_port=grpc_port, metrics_port=metrics_port, http_port=None)
    require_free_ports(spec)  # nothing listens yet
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        held.bind(("127.0.0.1", metrics_port))
        held.listen()
        with pytest.raises(StackError) as refused:
            require_free_ports(spec)
    assert str(refused.value).startswith(f"customer: port {metrics_port} (metrics) is taken")
    require_free_ports(spec)  # free again
