"""Heartbeat bounds and the sliding average behind event 3033 (KB905013).

Exchange 2003 SP2 accepts Ping heartbeats between ``MinHeartbeatInterval``
and ``MaxHeartbeatInterval`` (event 3016 and the defaults when min > max) and
averages the last ``HbiSampleSize`` heartbeats; an average at or below
``HbiAlertThreshold`` means something between device and server (a firewall,
a proxy) kills idle connections early, and MASSYNC says so with warning 3033.
"""
from __future__ import annotations

import threading
import weakref
from collections import deque

from host.eventlog import Level
from plugins.activesync.plugin import MASSYNC_PARAMETERS

EVENT_SOURCE = "Server ActiveSync"
EVENT_BOUNDS_INVALID = 3016
EVENT_LOW_AVERAGE = 3033
DEFAULT_BOUNDS = (60, 2700)

_trackers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_guard = threading.Lock()


def bounds(service, config) -> tuple[int, int]:
    low = config.registry_value(MASSYNC_PARAMETERS, "MinHeartbeatInterval")
    high = config.registry_value(MASSYNC_PARAMETERS, "MaxHeartbeatInterval")
    if low > high:
        service.eventlog.write(EVENT_SOURCE, EVENT_BOUNDS_INVALID, Level.WARNING,
                               f"The MinHeartbeatInterval ({low} s) is greater than the MaxHeartbeatInterval "
                               f"({high} s) in the registry. The defaults of {DEFAULT_BOUNDS[0]} and "
                               f"{DEFAULT_BOUNDS[1]} seconds are used.")
        return DEFAULT_BOUNDS
    return low, high


class HeartbeatTracker:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.samples: deque[int] = deque()

    def record(self, service, config, heartbeat: int) -> None:
        size = max(1, config.registry_value(MASSYNC_PARAMETERS, "HbiSampleSize"))
        threshold = config.registry_value(MASSYNC_PARAMETERS, "HbiAlertThreshold")
        with self.lock:
            self.samples.append(heartbeat)
            while len(self.samples) > size:
                self.samples.popleft()
            if len(self.samples) < size:
                return
            average = sum(self.samples) / len(self.samples)
            if average > threshold:
                return
            self.samples.clear()  # one warning per full window
        service.eventlog.write(
            EVENT_SOURCE, EVENT_LOW_AVERAGE, Level.WARNING,
            f"The average of the most recent [{size}] heartbeat intervals used by clients is less than or equal "
            f"to [{threshold}]. Make sure that your firewall configuration is set to work correctly with "
            f"Exchange ActiveSync and direct push technology. Specifically, make sure that your firewall is "
            f"configured so that requests to Exchange ActiveSync do not expire before they have the "
            f"opportunity to be processed. (Average: {average:.0f} seconds.)")


def tracker(service) -> HeartbeatTracker:
    with _guard:
        found = _trackers.get(service)
        if found is None:
            found = _trackers[service] = HeartbeatTracker()
        return found
