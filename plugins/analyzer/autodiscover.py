"""ExRCA's Autodiscover part: "Attempting each method of contacting the Autodiscover service."

The methods are the device's discovery sequence (:func:`plugins.autodiscover.
discovery.discover`: the two https URLs, the HTTP redirect, the SRV record),
run through the lab DNS with the analyzer's trust store. Each attempt becomes
a child step; as in ExRCA a method that failed is shown failed even when a
later one found the server, and the test goes on with the URL found.
"""
from __future__ import annotations

import ssl
import time
from urllib.parse import urlsplit

from plugins.autodiscover.discovery import FAILED, SUCCEEDED, Attempt, discover

from . import causes
from .lab import Lab, Target
from .report import FAILURE, Step

TITLE = "Attempting each method of contacting the Autodiscover service."


def autodiscover_step(lab: Lab, target: Target, user_agent: str) -> tuple[Step, str]:
    """The step and the ActiveSync URL it found ("" when every method failed)."""
    step = Step(TITLE)
    trust = ssl.create_default_context(cafile=str(lab.trusted_roots()))
    if target.ignore_trust:
        trust.check_hostname, trust.verify_mode = False, ssl.CERT_NONE
    started = time.monotonic()
    found = discover(target.email, (target.user, target.password), lab.network.resolver, trust,
                     port_map=lab.network.port_map(), user_agent=user_agent)
    step.elapsed_ms = int((time.monotonic() - started) * 1000)
    for attempt in found.attempts:
        step.child(_method_step(lab, attempt))
    if not found.succeeded:
        return step.fail("The Autodiscover service couldn't be contacted successfully by any method."), ""
    step.summary = "The Autodiscover service was tested successfully."
    step.details.append(f"ActiveSync URL: {found.url}")
    return step, found.url


def _method_step(lab: Lab, attempt: Attempt) -> Step:
    verb, _, where = attempt.step.partition(" ")
    titles = {"POST": f"Attempting to test potential Autodiscover URL {where}",
              "GET": f"Attempting to contact the Autodiscover service using the HTTP redirect method ({where}).",
              "SRV": f"Attempting to contact the Autodiscover service using the DNS SRV redirect method ({where})."}
    step = Step(titles.get(verb, attempt.step), details=[attempt.detail])
    if attempt.result == FAILED:
        step.result, step.summary = FAILURE, "Testing of this potential Autodiscover URL failed."
        if attempt.detail.startswith("DNS:") and verb in ("POST", "GET"):
            step.causes += causes.dns_causes(lab, urlsplit(where).hostname or where)
    elif attempt.result == SUCCEEDED:
        step.summary = "The Autodiscover service was contacted successfully."
    else:
        step.summary = "The Autodiscover service pointed elsewhere."
    return step
