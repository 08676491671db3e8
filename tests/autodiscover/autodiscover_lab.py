"""Registry blocks and helpers shared by the Autodiscover and lab DNS tests.

The blocks are the ones proposed for the shipped registry.ini; tests append
them to it (later keys and values win, as when a .reg file is imported).
"""
from __future__ import annotations

import socket
from importlib import metadata

from lxml import etree

from host.plugins import ENTRY_POINT_GROUP, make_plugin_manager
from plugins.autodiscover import plugin as autodiscover_plugin
from plugins.labdns import plugin as labdns_plugin

AUTODISCOVER_BLOCKS = r'''
[/LM/W3SVC/1/ROOT/Autodiscover]
"Path"="C:\\Program Files\\Exchsrvr\\Autodiscover"
"AppRoot"="/LM/W3SVC/1/ROOT/Autodiscover"
"AppFriendlyName"="Autodiscover"
"AuthFlags"=dword:00000006
"AccessFlags"=dword:00000201
"ScriptMaps"=multi:"*,C:\\Program Files\\Exchsrvr\\bin\\autodisc.dll,1"

[/LM/W3SVC/1/ROOT/Autodiscover/autodiscover.json]
"AuthFlags"=dword:00000001
'''

ZONES = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows NT\CurrentVersion\DNS Server\Zones"


def dns_blocks(listen: str, a: list[str], srv: list[str], zone: str = "contoso.com") -> str:
    def multi(entries: list[str]) -> str:
        return ",".join(f'"{e}"' for e in entries)

    # "[-key]" first: the lab's zone replaces the shipped one instead of merging with it.
    lines = ["\n[HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\DNS\\Parameters]",
             f'"ListenAddress"="{listen}"', "", f"[-{ZONES}\\{zone}]", "", f"[{ZONES}\\{zone}]"]
    if a:
        lines.append(f'"A"=multi:{multi(a)}')
    if srv:
        lines.append(f'"SRV"=multi:{multi(srv)}')
    return "\n".join(lines) + "\n"


def lab_pm(*extra):
    """The host's own plugins, Autodiscover and the lab DNS; no other entry point."""
    host = [ep.name for ep in metadata.entry_points(group=ENTRY_POINT_GROUP) if ep.value.startswith("host.")]
    return make_plugin_manager(only=host, extra=[autodiscover_plugin, labdns_plugin, *extra])


def free_port(ip: str = "127.0.0.1", kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind((ip, 0))
        return sock.getsockname()[1]


def free_dns_port(ip: str) -> int:
    """A port free for both UDP and TCP on ``ip`` (bounded tries)."""
    for _ in range(20):
        port = free_port(ip, socket.SOCK_DGRAM)
        try:
            with socket.socket() as sock:
                sock.bind((ip, port))
        except OSError:
            continue
        return port
    raise AssertionError(f"no port free for UDP and TCP on {ip}")


def children(element: etree._Element) -> list[str]:
    """Local names of the child elements, in document order."""
    return [etree.QName(child).localname for child in element]
