"""The stack's ports: free, never handed out twice, and clear of the ports the kernel gives outgoing
connections, so that no connection takes one before its service listens on it."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from copilot.dev import stack
from copilot.dev.stack import GRPC_OFFSET, LOWEST_PORT, free_port


def test_ports_and_their_grpc_ports_lie_below_the_ephemeral_range(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kernel = tmp_path / "ip_local_port_range"
    kernel.write_text("32768\t60999\n")
    monkeypatch.setattr(stack, "EPHEMERAL_RANGE", kernel)
    ports = [free_port() for _ in range(20)]
    assert len(set(ports)) == len(ports)
    for port in ports:
        assert port >= LOWEST_PORT and port + GRPC_OFFSET < 32768
        with socket.socket() as sock:  # free: a service can listen on it
            sock.bind(("127.0.0.1", port))


def test_a_kernel_whose_ephemeral_range_leaves_no_room_still_gets_free_ports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kernel = tmp_path / "ip_local_port_range"
    kernel.write_text("1024\t65535\n")
    monkeypatch.setattr(stack, "EPHEMERAL_RANGE", kernel)
    port = free_port()
    assert port + GRPC_OFFSET <= 65535
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_an_unreadable_range_is_read_as_linux_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stack, "EPHEMERAL_RANGE", tmp_path / "missing")
    assert free_port() + GRPC_OFFSET < 32768
