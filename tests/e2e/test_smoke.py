"""The server starts with every service on an ephemeral port and stops cleanly on SIGTERM."""
import json
import socket
import ssl

from conftest import ALL_SERVICES


def test_every_service_listens_and_sigterm_stops_cleanly(tern):
    assert sorted(tern.addresses) == sorted(ALL_SERVICES)
    for service in ALL_SERVICES:
        with socket.create_connection((tern.host(service), tern.port(service)), timeout=5):
            pass
    assert tern.stop() == 0
    assert not (tern.data_dir / "listening.json").exists()
    assert "stopped" in tern.read_log()


def test_implicit_tls_services_present_the_self_signed_certificate(tern):
    context = ssl.create_default_context(cafile=tern.cert)
    for service in ("imaps", "pop3s", "submissions", "https"):
        with socket.create_connection(("127.0.0.1", tern.port(service)), timeout=5) as raw:
            with context.wrap_socket(raw, server_hostname="localhost") as tls:
                assert tls.version() in ("TLSv1.2", "TLSv1.3")
