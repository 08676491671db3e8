"""A real host in a subprocess on 127.0.0.1, as a trainee runs it: ``python -m host serve``."""
from __future__ import annotations

import base64
import http.client
import os
import queue
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

import spnego

from host.testing import registry_text


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RealHost:
    """``python -m host serve`` on free ports; ``lines`` collects its output."""

    def __init__(self, workdir: Path, text: str | None = None) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.http_port, self.https_port, self.smtp_port, self.dns_port = (free_port() for _ in range(4))
        self.registry = workdir / "registry.ini"
        self.data = workdir / "data"
        base = text if text is not None else registry_text()
        self.registry.write_text(base.replace('"127.0.0.1:8080:"', f'"127.0.0.1:{self.http_port}:"')
                                 .replace('"127.0.0.1:8443:"', f'"127.0.0.1:{self.https_port}:"')
                                 .replace('"127.0.0.1:2525:"', f'"127.0.0.1:{self.smtp_port}:"')
                                 .replace('"127.0.0.253:5300"', f'"127.0.0.253:{self.dns_port}"'), encoding="utf-8")
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "host", "serve", "--registry", str(self.registry), "--data", str(self.data)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        threading.Thread(target=self._pump, daemon=True).start()
        self.wait_for(f"Listening on https://127.0.0.1:{self.https_port}/", timeout)
        self.wait_for("Press Ctrl-C", timeout)

    def _pump(self) -> None:
        assert self.process and self.process.stdout
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, text: str, timeout: float = 30) -> str:
        """The first output line (from now on) containing ``text``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.05, deadline - time.monotonic()))
            except queue.Empty:
                break
            self.output.append(line)
            if text in line:
                return line
        raise AssertionError(f"no output line with {text!r} within {timeout}s; output so far:\n" + "\n".join(self.output))

    def stop(self, timeout: float = 20) -> int:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
            raise AssertionError("the host did not stop within 20 s of Ctrl-C") from None

    def run_cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "host", *args, "--registry", str(self.registry),
                               "--data", str(self.data)], capture_output=True, text=True, timeout=120)

    def trust_context(self) -> ssl.SSLContext:
        """A client context trusting only the lab root CA."""
        context = ssl.create_default_context(cafile=str(self.root_ca()))
        return context

    def root_ca(self) -> Path:
        path = self.workdir / "root.cer"
        if not path.exists():
            result = self.run_cli("cert", "export-root", str(path))
            assert result.returncode == 0, result.stderr
        return path

    def http(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=15)

    def https(self, context: ssl.SSLContext | None = None) -> http.client.HTTPSConnection:
        return http.client.HTTPSConnection("127.0.0.1", self.https_port, timeout=15,
                                           context=context or self.trust_context())

    def w3c(self) -> list[dict[str, str]]:
        from host.w3clog import parse_w3c

        rows: list[dict[str, str]] = []
        for path in sorted((self.data / "LogFiles" / "W3SVC1").glob("*.log")):
            rows += parse_w3c(path.read_text(encoding="utf-8"))
        return rows


def last_row(host: RealHost) -> dict[str, str]:
    """The newest W3C line, or {} before the first one is written."""
    rows = host.w3c()
    return rows[-1] if rows else {}


def send(conn: http.client.HTTPConnection, method: str, path: str, headers: dict | None = None,
         body: bytes = b"") -> tuple[int, dict, bytes]:
    conn.request(method, path, body=body or None, headers=headers or {})
    response = conn.getresponse()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()


def get(conn: http.client.HTTPConnection, path: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    return send(conn, "GET", path, headers)


def ntlm_request(conn: http.client.HTTPConnection, method: str, path: str, user: str, password: str, *,
                 scheme: str = "NTLM", headers: dict | None = None, body: bytes = b"") -> tuple[int, dict, bytes]:
    """A real NTLM (or Negotiate) handshake on one keep-alive connection, the request riding the last leg."""
    client = spnego.client(user, password, protocol="ntlm" if scheme == "NTLM" else "negotiate")
    token = client.step()
    extra = dict(headers or {})
    status, answer, reply = send(conn, method, path, {**extra, "Authorization": f"{scheme} {base64.b64encode(token).decode()}"},
                                 body)
    if status != 401 or not answer.get("www-authenticate", "").startswith(scheme + " "):
        return status, answer, reply
    challenge = base64.b64decode(answer["www-authenticate"].split(" ", 1)[1])
    token = client.step(challenge)
    return send(conn, method, path, {**extra, "Authorization": f"{scheme} {base64.b64encode(token).decode()}"}, body)


def ntlm_get(conn: http.client.HTTPConnection, path: str, user: str, password: str,
             scheme: str = "NTLM") -> tuple[int, dict, bytes]:
    return ntlm_request(conn, "GET", path, user, password, scheme=scheme)


def wait_until(predicate, timeout: float = 10, interval: float = 0.1):
    """Poll ``predicate`` until it returns a true value (bounded)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)
