"""Throughput and latency of a trivial handler through the full pipeline vs. bare waitress.

    python bench/host_overhead.py [--seconds 3] [--clients 8] [--rounds 3]

Both servers run in this process on 127.0.0.1 with the same thread count;
the clients run in a second process (threads with keep-alive connections),
so they do not compete with the servers for the GIL. Prints requests/s and
latency percentiles per round, then the medians and the ratio
pipeline/bare (target: >= 0.8).
"""
from __future__ import annotations

import argparse
import http.client
import logging
import multiprocessing
import socket
import statistics
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import waitress.server

from host import hookimpl
from host.listeners import Endpoint, make_listener
from host.plugins import make_plugin_manager
from host.regfile import RegType
from host.scriptmaps import Handler
from host.service import WebService
from host.testing import registry_text

BODY = b"hello"


def trivial(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(BODY)))])
    return [BODY]


class BenchPlugin:
    @hookimpl
    def register_handlers(self):
        return [Handler("bench.dll", lambda service: trivial)]


def load(port: int, path: str, seconds: float, clients: int) -> tuple[float, list[float]]:
    latencies: list[list[float]] = [[] for _ in range(clients)]
    stop = time.perf_counter() + seconds

    def client(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while time.perf_counter() < stop:
            began = time.perf_counter()
            conn.request("GET", path, headers={"Host": f"127.0.0.1:{port}"})
            response = conn.getresponse()
            response.read()
            assert response.status == 200, response.status
            latencies[n].append(time.perf_counter() - began)
        conn.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    flat = [x for per in latencies for x in per]
    return len(flat) / elapsed, flat


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "Task queue depth" is expected under load

    bare = waitress.server.create_server(trivial, host="127.0.0.1", port=0, threads=args.threads)
    bare_port = bare.effective_port
    threading.Thread(target=bare.run, daemon=True).start()

    hosts = {name: start_host(args.threads, log_type) for name, log_type in
             (("full pipeline", 1), ("no W3C log", 0))}

    clients_process = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    targets = [("bare waitress", bare_port)] + [(name, host[2]) for name, host in hosts.items()]
    results: dict[str, list[tuple[float, float, float]]] = {name: [] for name, _ in targets}
    for round_no in range(1, args.rounds + 1):
        for name, port in targets:
            path = "/bench/x"
            rate, lat = clients_process.submit(load, port, path, args.seconds, args.clients).result()
            row = (rate, statistics.median(lat) * 1000, percentile(lat, 0.99) * 1000)
            results[name].append(row)
            print(f"round {round_no}  {name:<14} {rate:8.0f} req/s   p50 {row[1]:6.2f} ms   p99 {row[2]:6.2f} ms")
    medians = {name: statistics.median(r[0] for r in rows) for name, rows in results.items()}
    for name, rows in results.items():
        print(f"median {name:<14} {medians[name]:8.0f} req/s   p50 {statistics.median(r[1] for r in rows):6.2f} ms   "
              f"p99 {statistics.median(r[2] for r in rows):6.2f} ms")
    print(f"ratio pipeline/bare: {medians['full pipeline'] / medians['bare waitress']:.2f} (target >= 0.8); "
          f"without the W3C log: {medians['no W3C log'] / medians['bare waitress']:.2f}")
    clients_process.shutdown()
    for service, listener, _port in hosts.values():
        listener.stop()
        service.stop()
    bare.close()


def start_host(threads: int, log_type: int) -> tuple[WebService, object, int]:
    """The host with a vdir mapped to the trivial handler, on its own port; LogType as given."""
    workdir = Path(tempfile.mkdtemp(prefix="easlab-bench-"))
    registry = workdir / "registry.ini"
    port = free_port()
    bench = "/LM/W3SVC/1/ROOT/bench"
    registry.write_text(registry_text([("/LM/W3SVC/1", "ServerBindings", RegType.REG_MULTI_SZ, [f"127.0.0.1:{port}:"]),
                                       ("/LM/W3SVC/1", "SecureBindings", RegType.REG_MULTI_SZ, []),
                                       ("/LM/W3SVC", "LogType", RegType.REG_DWORD, log_type),
                                       (bench, "Path", RegType.REG_SZ, "C:\\Inetpub\\wwwroot"),
                                       (bench, "AuthFlags", RegType.REG_DWORD, 1),
                                       (bench, "AccessFlags", RegType.REG_DWORD, 0x201),
                                       (bench, "ScriptMaps", RegType.REG_MULTI_SZ, ["*,C:\\bench\\bench.dll,1"])]))
    service = WebService(registry, workdir / "data", pm=make_plugin_manager(extra=[BenchPlugin()]),
                         announce=lambda line: None)
    listener = make_listener(Endpoint("http", "127.0.0.1", port), service, threads=threads)
    listener.start()
    return service, listener, port


if __name__ == "__main__":
    main()
