"""A simulated device's own settings: its registry (device.ini), its added roots, its partnership.

On a real phone a trainee edits the registry (RegeditSTG, a CAB) and adds
root certificates (AddRootCert.exe, a certificate file opened on the device).
The lab keeps the same things where a trainee can edit them::

    <data>/devices/<profile>/device.ini    the device's registry, .reg syntax
    <data>/devices/<profile>/roots/        root certificates added (PEM)
    <data>/devices/<profile>/state.json    the partnership: DeviceId, policy key, sync keys

device.ini is read with the host's own .reg reader, so a line pasted from a
forum post works and a typo is reported with its file:line.
"""
from __future__ import annotations

import ssl
import textwrap
import uuid
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from device.state import DeviceState
from host.regfile import Location, Registry, RegType, format_value

from .profile import DeviceProfile

PARTNER = "{partner}"


class DeviceSettingsError(Exception):
    """device.ini or a root certificate file is unusable; the text names the file."""


@dataclass(frozen=True)
class CertificateChecks:
    """Whether the device checks server certificates, and which value says so."""

    enabled: bool
    value: str = ""  # KEY\Name as found in device.ini, "" when the device has no switch
    data: int | None = None
    location: Location | None = None

    def __str__(self) -> str:
        if not self.value:
            return "on (the device has no setting to switch them off)"
        state = "on" if self.enabled else "OFF"
        return f"{state}: {self.value}={self.data} ({self.location or 'device default'})"


class DeviceSettings:
    """The folder of one simulated device, created with the profile's defaults on first use."""

    def __init__(self, data_dir: Path, profile: DeviceProfile) -> None:
        self.profile = profile
        self.folder = Path(data_dir) / "devices" / profile.name
        self.registry_file = self.folder / "device.ini"
        self.roots_dir = self.folder / "roots"
        self.state_file = self.folder / "state.json"

    def ensure(self) -> None:
        """Write device.ini and roots/ the way a factory-fresh device has them."""
        self.roots_dir.mkdir(parents=True, exist_ok=True)
        if not self.registry_file.exists():
            self.registry_file.write_text(self._fresh_registry(), encoding="utf-8")

    def _fresh_registry(self) -> str:
        profile = self.profile
        lines = ["Windows Registry Editor Version 5.00", "",
                 f"; The registry of the simulated {profile.display_name} ({profile.name}): the values",
                 "; the lab's device reads. Edit it as on the device; the next \"device run\" uses it.",
                 "; Root certificates added to the device are the files in roots/ (add one with",
                 f"; \"python -m host device trust {profile.name} FILE\", as AddRootCert.exe does).", ""]
        switch = profile.certificate_switch
        if switch is None:
            lines.append("; This device has no registry value that switches certificate checks off.")
        else:
            key = switch.key.replace(PARTNER, "{" + str(uuid.uuid4()).upper() + "}")
            lines += textwrap.wrap(switch.note, 78, initial_indent="; ", subsequent_indent="; ")
            lines += [f"[{key}]", format_value(switch.name, RegType.REG_DWORD, switch.default)]
        return "\n".join(lines) + "\n"

    # --- the registry ----------------------------------------------------------

    def registry(self) -> Registry:
        self.ensure()
        registry = Registry.from_file(self.registry_file)
        if registry.errors:
            raise DeviceSettingsError("\n".join(f"{self.folder / e.location.file}:{e.location.line}: {e.message}"
                                                for e in registry.errors))
        return registry

    def certificate_checks(self) -> CertificateChecks:
        """What the profile's switch value says; ``{partner}`` matches any partnership key."""
        switch = self.profile.certificate_switch
        if switch is None:
            return CertificateChecks(enabled=True)
        registry = self.registry()
        if PARTNER in switch.key:
            parent = switch.key.split(PARTNER, 1)[0].rstrip("\\")
            keys = [key.path for key in registry.subkeys(parent)]
        else:
            keys = [switch.key]
        for key in keys:
            value = registry.value(key, switch.name)
            if value is None:
                continue
            if value.type is not RegType.REG_DWORD:
                raise DeviceSettingsError(f"{self.registry_file}:{value.location.line}: {switch.name} must be a dword")
            where = Location(str(self.registry_file), value.location.line)
            return CertificateChecks(value.data != switch.off_when, f"{key}\\{switch.name}", value.data, where)
        return CertificateChecks(enabled=True, value=switch.value, data=None)

    # --- roots -------------------------------------------------------------------

    def roots(self) -> list[x509.Certificate]:
        """The root certificates added to the device, in file-name order."""
        self.ensure()
        found = []
        for path in sorted(self.roots_dir.iterdir(), key=lambda p: p.name):
            if path.is_file():
                found.append(read_certificate(path))
        return found

    def add_root(self, source: Path) -> tuple[x509.Certificate, Path]:
        """Copy a certificate (PEM or DER, as AddRootCert takes it) into roots/ as PEM."""
        cert = read_certificate(source)
        self.ensure()
        # certmgr and AddRootCert name a certificate by its SHA-1 thumbprint
        target = self.roots_dir / f"{cert.fingerprint(hashes.SHA1()).hex().upper()}.pem"  # noqa: S303
        target.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return cert, target

    def trust_store(self) -> Path | None:
        """The device's root store as one PEM file, or None for the factory store alone.

        The factory store is what the maker shipped (VeriSign, GlobalSign...,
        KB915840); this machine's system store stands in for it, so no lab
        certificate is trusted until a root is added.
        """
        added = self.roots()
        if not added:
            return None
        system = ssl.get_default_verify_paths().cafile
        factory = Path(system).read_bytes() if system and Path(system).is_file() else b""
        bundle = self.folder / "trust-store.pem"
        bundle.write_bytes(factory + b"".join(c.public_bytes(serialization.Encoding.PEM) for c in added))
        return bundle

    # --- the partnership -----------------------------------------------------------

    def state(self, url: str, user: str) -> DeviceState:
        """The partnership kept from earlier runs, or a new one for another server or user."""
        profile = self.profile
        if self.state_file.exists():
            state = DeviceState.load(self.state_file)
            if state.url == url and state.user == user:
                return state
        device_id = (profile.device_id_prefix + uuid.uuid4().hex.upper())[:32]
        state = DeviceState.new(url, user, device_id=device_id, device_type=profile.device_type,
                                user_agent=profile.user_agent)
        state.device_info.model, state.device_info.os = profile.model, profile.os
        return state


def read_certificate(path: Path) -> x509.Certificate:
    data = Path(path).read_bytes()
    try:
        if b"-----BEGIN CERTIFICATE-----" in data:
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError as exc:
        raise DeviceSettingsError(f"{path}: not a certificate (PEM or DER): {exc}") from None
