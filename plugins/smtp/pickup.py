"""The Pickup folder: where mail for other organisations goes instead of the network.

Files use the IIS SMTP pickup format: ``x-sender:`` and ``x-receiver:`` lines
before the message give the envelope, so a trainee can read who the lab
"sent" to, and a real IIS SMTP service could send the file as it is.
"""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterable
from pathlib import Path

PICKUP = "Pickup"


def pickup_dir(data_dir: Path) -> Path:
    return Path(data_dir) / PICKUP


def write_pickup(data_dir: Path, sender: str, recipients: Iterable[str], mime: bytes) -> Path:
    """Write one ``.eml`` file atomically (a reader never sees half a message)."""
    folder = pickup_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    envelope = f"x-sender: {sender}\r\n" + "".join(f"x-receiver: {r}\r\n" for r in recipients)
    name = uuid.uuid4().hex.upper()
    partial = folder / f"{name}.tmp"
    partial.write_bytes(envelope.encode("utf-8") + mime)
    final = folder / f"{name}.eml"
    os.replace(partial, final)
    return final
