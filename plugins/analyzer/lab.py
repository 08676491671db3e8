"""What one analyzer run needs: whom to test, and the lab it runs in.

ExRCA runs on the internet and trusts the public roots Windows trusts. The
lab's analyzer runs beside the host: it asks the lab DNS, goes through the
lab's port-forwarding firewall (:class:`device.profiles.LabNetwork`) and
trusts what the host machine's "Trusted Root Certification Authorities"
hold, the lab root. Because it can read the same registry.ini, data
directory and event log as the host, it can name the setting behind a
failure; it never reads them to decide whether a step passes.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from device.profiles import LabNetwork
from host.config import HostConfig
from host.eventlog import EventLog
from host.pki import LabPKI


@dataclass(frozen=True)
class Target:
    """What the trainee typed into the analyzer's form.

    ``url`` empty means: find it with Autodiscover. ``ignore_trust`` is
    ExRCA's "Ignore Trust for SSL" check box.
    """

    email: str
    user: str
    password: str
    url: str = ""
    ignore_trust: bool = False

    @property
    def domain(self) -> str:
        return self.email.rpartition("@")[2].lower()


@dataclass
class Lab:
    """The host's configuration, data directory (W3C logs), certificate store and event log,
    and the network to reach it."""

    config: HostConfig
    data_dir: Path
    pki: LabPKI
    eventlog: EventLog
    network: LabNetwork

    @classmethod
    def open(cls, config: HostConfig, data_dir: Path, *, pki: LabPKI | None = None,
             eventlog: EventLog | None = None) -> Lab:
        data_dir = Path(data_dir)
        return cls(config, data_dir, pki or LabPKI(data_dir / "pki"), eventlog or EventLog(data_dir / "eventlog.db"),
                   LabNetwork.from_config(config))

    def trusted_roots(self) -> Path:
        """The analyzer machine's trusted root store: the lab root CA."""
        return self.pki.ensure_root().cert_path
