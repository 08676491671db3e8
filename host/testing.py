"""Test helpers for the host and for plugin authors: a host in-process, no sockets.

    from host.testing import make_test_host
    service, app = make_test_host(tmp_path, set_values=[
        ("/LM/W3SVC/1/ROOT/Exchange", "AccessSSLFlags", RegType.REG_DWORD, 8)])
    app.get("/Exchange/", status=403)

``app`` is a WebTest ``TestApp`` whose requests arrive on the site's HTTP
binding from 127.0.0.1; pass ``extra_environ=https_environ()`` for the SSL
binding. Real TLS, NTLM and reload need a real listener (see tests/).
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

from host.listeners import Endpoint
from host.regfile import RegType, set_value
from host.service import WebService, default_registry_path
from host.tls import ClientCertificateUnavailable


class InProcessTls:
    """Stands in for a TLS connection when no socket exists.

    :param secret_bits: the cipher strength (403.5 below 128).
    :param client_certificate: what the client would answer a certificate request with;
        ``ClientCertificateUnavailable`` when it cannot answer at all.
    """

    protocol = "TLSv1.3"
    cipher = "TLS_AES_256_GCM_SHA384"

    def __init__(self, *, secret_bits: int = 256, client_certificate=None, can_answer: bool = True,
                 server_certificate=None) -> None:
        self.secret_bits = secret_bits
        self._client_certificate = client_certificate
        self._can_answer = can_answer
        self._server_certificate = server_certificate
        self.requests = 0

    @property
    def server_certificate(self):
        """None: an in-process request has no server certificate."""
        return self._server_certificate

    def peer_certificate(self):
        return None

    def request_client_certificate(self, timeout: float = 10):
        self.requests += 1
        if not self._can_answer:
            raise ClientCertificateUnavailable("the client did not offer post-handshake authentication",
                                               connection_usable=True)
        return self._client_certificate


def https_environ(port: int = 8443, **tls) -> dict:
    """extra_environ for a request on the SSL binding 127.0.0.1:``port``."""
    return {"host.endpoint": Endpoint("https", "127.0.0.1", port), "SERVER_PORT": str(port),
            "wsgi.url_scheme": "https", "host.tls": InProcessTls(**tls)}


def registry_text(set_values: Iterable[tuple[str, str, RegType, object]] = (), *, base: str | None = None) -> str:
    """The shipped registry.ini (or ``base``) with values changed as ``adsutil set`` would."""
    text = base if base is not None else default_registry_path().read_text(encoding="utf-8")
    for key, name, reg_type, value in set_values:
        text = set_value(text, key, name, reg_type, value)
    return text


def make_test_host(data_dir: Path, *, text: str | None = None,
                   set_values: Iterable[tuple[str, str, RegType, object]] = (), pm=None, port: int = 8080,
                   content_root: Path | None = None):
    """A service on ``data_dir/registry.ini`` and a WebTest app over it.

    ``content_root`` replaces the project's ``vdirs/`` as the lab's C: drive.

    :return: (service, app); call ``service.stop()`` when done.
    """
    from webtest import TestApp

    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "registry.ini"
    path.write_text(text if text is not None else registry_text(set_values), encoding="utf-8")
    service = WebService(path, data_dir / "data", pm=pm, announce=lambda line: None, content_root=content_root)
    app = TestApp(service, extra_environ={"host.endpoint": Endpoint("http", "127.0.0.1", port),
                                          "SERVER_PORT": str(port), "REMOTE_ADDR": "127.0.0.1",
                                          "HTTP_HOST": f"127.0.0.1:{port}"})
    return service, app
