"""One EAS command as a report step: run it, time it, and word its failure as ExRCA does.

An HTTP failure keeps the IIS status.substatus from the error page and gets
its causes; a 5xx from MASSYNC also gets the Server ActiveSync events written
while the command ran, because MASSYNC's 500 hides the real failure one hop
further (PITFALLS §0).
"""
from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TypeVar

from device.errors import CommandFailed, EasError, HttpFailure, ProtocolError, TransportError
from device.profiles import Published

from . import causes
from .lab import Lab
from .report import Step

T = TypeVar("T")


class EasSteps:
    """Runs commands of one session as steps handed to ``add`` (a report's or a parent step's)."""

    def __init__(self, lab: Lab, add: Callable[[Step], Step], published: Published, path: str) -> None:
        self.lab, self.add, self.published, self.path = lab, add, published, path
        self.last = Step("")

    def run(self, title: str, call: Callable[[], T]) -> T | None:
        """``call()``'s result, or None when it failed (``self.last`` then says why)."""
        self.last = step = self.add(Step(title))
        since = datetime.now(timezone.utc)
        started = time.monotonic()
        try:
            return call()
        except HttpFailure as exc:
            fail_http(self.lab, step, self.published, self.path, exc, since)
        except CommandFailed as exc:
            step.fail(f"The {exc.command} command failed with Status {exc.status}.", str(exc))
        except TransportError as exc:
            step.fail("A network error occurred while communicating with the remote host.", str(exc))
        except ProtocolError as exc:
            step.fail("The response isn't a valid Exchange ActiveSync response.", str(exc))
        except EasError as exc:
            step.fail("Failure", str(exc))
        finally:
            step.elapsed_ms = int((time.monotonic() - started) * 1000)
        return None


def fail_http(lab: Lab, step: Step, published: Published, path: str, exc: HttpFailure, since: datetime) -> None:
    """ExRCA's "An HTTP 500 response was returned", the IIS page's reason, and the setting behind it."""
    code = causes.iis_status(exc.body)
    shown = f"{code[0]}.{code[1]}" if code and code[1] else str(exc.status)
    step.fail(f"An HTTP {shown} response was returned from the server.", str(exc))
    step.causes += causes.http_causes(lab, published, path, exc.status, exc.body)
    if exc.status >= 500:
        events = causes.massync_events(lab, since)
        step.details += [causes.event_line(e) for e in events]
        step.causes += causes.massync_causes(lab, events)
