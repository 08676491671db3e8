"""The Calendar class (MS-ASCAL): appointments, attendees, recurrence and exceptions."""
from __future__ import annotations

from plugins.activesync.items.fields import BOOL, COMPACT_DATE, INT, LIST, STRUCT, STRUCT_LIST, ClassSpec, Field
from plugins.activesync.personas import V12_0, V14_0, V14_1, V16_0

# MS-ASCAL 2.2.2.46 Recurrence Type; the store (plugins/owa/seed.py, OWA) may name them in words.
RECURRENCE_TYPES = (("daily", 0), ("weekly", 1), ("monthly", 2), ("monthly_nth", 3), ("yearly", 5), ("yearly_nth", 6))

_RECURRENCE = (
    Field("Calendar:Type", "type", INT, names=RECURRENCE_TYPES),
    Field("Calendar:Occurrences", "occurrences", INT),
    Field("Calendar:Interval", "interval", INT),
    Field("Calendar:WeekOfMonth", "week_of_month", INT),
    Field("Calendar:DayOfWeek", "day_of_week", INT),
    Field("Calendar:MonthOfYear", "month_of_year", INT),
    Field("Calendar:Until", "until", COMPACT_DATE),
    Field("Calendar:DayOfMonth", "day_of_month", INT),
    Field("Calendar:CalendarType", "calendar_type", INT, since=V14_0),
    Field("Calendar:IsLeapMonth", "is_leap_month", BOOL, since=V14_0),
    Field("Calendar:FirstDayOfWeek", "first_day_of_week", INT, since=V14_1),
)
_ATTENDEE = (
    Field("Calendar:Email", "email"),
    Field("Calendar:Name", "name"),
    Field("Calendar:AttendeeStatus", "status", INT, since=V12_0),
    Field("Calendar:AttendeeType", "type", INT, since=V12_0),
)
_EXCEPTION = (
    Field("Calendar:Deleted", "deleted", BOOL),
    Field("Calendar:ExceptionStartTime", "exception_start", COMPACT_DATE),
    Field("Calendar:Subject", "subject"),
    Field("Calendar:StartTime", "start", COMPACT_DATE),
    Field("Calendar:EndTime", "end", COMPACT_DATE),
    Field("Calendar:Location", "location", until=V14_1),
    Field("Calendar:AllDayEvent", "all_day", BOOL),
    Field("Calendar:BusyStatus", "busy_status", INT),
    Field("Calendar:Reminder", "reminder", INT),
)

SPEC = ClassSpec(
    name="Calendar",
    message_class="IPM.Appointment",
    page="Calendar",
    fields=(
        Field("Calendar:Timezone", "time_zone"),
        Field("Calendar:AllDayEvent", "all_day", BOOL),
        Field("Calendar:BusyStatus", "busy_status", INT),
        Field("Calendar:OrganizerName", "organizer.name"),
        Field("Calendar:OrganizerEmail", "organizer.email"),
        Field("Calendar:DtStamp", "dtstamp", COMPACT_DATE),
        Field("Calendar:EndTime", "end", COMPACT_DATE),
        Field("Calendar:Location", "location", until=V14_1),
        Field("AirSyncBase:Location", "location_16", STRUCT, since=V16_0,
              fields=(Field("AirSyncBase:DisplayName", "display_name"),)),
        Field("Calendar:Reminder", "reminder", INT),
        Field("Calendar:Sensitivity", "sensitivity", INT),
        Field("Calendar:Subject", "subject"),
        Field("Calendar:StartTime", "start", COMPACT_DATE),
        Field("Calendar:UID", "uid"),
        Field("Calendar:MeetingStatus", "meeting_status", INT),
        Field("Calendar:Attendees", "attendees", STRUCT_LIST, child="Calendar:Attendee", fields=_ATTENDEE),
        Field("Calendar:Categories", "categories", LIST, child="Calendar:Category"),
        Field("Calendar:Recurrence", "recurrence", STRUCT, fields=_RECURRENCE),
        Field("Calendar:Exceptions", "exceptions", STRUCT_LIST, child="Calendar:Exception", fields=_EXCEPTION),
        Field("Calendar:ResponseRequested", "response_requested", BOOL, since=V14_0),
        Field("Calendar:DisallowNewTimeProposal", "disallow_new_time_proposal", BOOL, since=V14_0),
    ),
)
