"""Device profiles: simulated phones that run a real EAS conversation against the lab.

A profile is a data file (``wm5.ini``, ``ios.ini``...) saying what one kind of
phone sends and accepts; :mod:`.conversation` runs it with the device
library, through the lab DNS (:mod:`.labnet`) and with the device's own
settings (:mod:`.settings`: device.ini in .reg syntax, added roots, the
partnership). See docs/devices.md.

    profile = load_profile("wm5")
    run = DeviceRun(DeviceSettings(data_dir, profile), LabNetwork.from_config(config),
                    "CONTOSO\\\\alice", "P@ssw0rd", url="https://mail.contoso.com/Microsoft-Server-ActiveSync")
    for step in run.steps():
        print(step.name, step.ok, step.lines)
    print(run.shown)   # what the phone shows after a failure
"""
from __future__ import annotations

from .conversation import DeviceRun, DeviceStep
from .labnet import LabNetwork, Published
from .messages import device_message
from .profile import DeviceProfile, ProfileError, folder_types, load_profile, profile_names
from .settings import CertificateChecks, DeviceSettings, DeviceSettingsError

__all__ = [
    "CertificateChecks",
    "DeviceProfile",
    "DeviceRun",
    "DeviceSettings",
    "DeviceSettingsError",
    "DeviceStep",
    "LabNetwork",
    "ProfileError",
    "Published",
    "device_message",
    "folder_types",
    "load_profile",
    "profile_names",
]
