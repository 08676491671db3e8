"""The Tasks class (MS-ASTASK)."""
from __future__ import annotations

from plugins.activesync.items.calendar import RECURRENCE_TYPES
from plugins.activesync.items.fields import BOOL, DATE, INT, LIST, STRUCT, ClassSpec, Field
from plugins.activesync.personas import V14_0, V14_1

_RECURRENCE = (
    Field("Tasks:Type", "type", INT, names=RECURRENCE_TYPES),
    Field("Tasks:Start", "start", DATE),
    Field("Tasks:Until", "until", DATE),
    Field("Tasks:Occurrences", "occurrences", INT),
    Field("Tasks:Interval", "interval", INT),
    Field("Tasks:DayOfWeek", "day_of_week", INT),
    Field("Tasks:DayOfMonth", "day_of_month", INT),
    Field("Tasks:WeekOfMonth", "week_of_month", INT),
    Field("Tasks:MonthOfYear", "month_of_year", INT),
    Field("Tasks:Regenerate", "regenerate", BOOL),
    Field("Tasks:DeadOccur", "dead_occur", BOOL),
    Field("Tasks:CalendarType", "calendar_type", INT, since=V14_0),
    Field("Tasks:IsLeapMonth", "is_leap_month", BOOL, since=V14_0),
    Field("Tasks:FirstDayOfWeek", "first_day_of_week", INT, since=V14_1),
)

SPEC = ClassSpec(
    name="Tasks",
    message_class="IPM.Task",
    page="Tasks",
    fields=(
        Field("Tasks:Subject", "subject"),
        Field("Tasks:Importance", "importance", INT),
        Field("Tasks:UtcStartDate", "utc_start_date", DATE),
        Field("Tasks:StartDate", "start_date", DATE),
        Field("Tasks:UtcDueDate", "utc_due_date", DATE),
        Field("Tasks:DueDate", "due_date", DATE),
        Field("Tasks:Categories", "categories", LIST, child="Tasks:Category"),
        Field("Tasks:Recurrence", "recurrence", STRUCT, fields=_RECURRENCE),
        Field("Tasks:Complete", "complete", BOOL),
        Field("Tasks:DateCompleted", "date_completed", DATE),
        Field("Tasks:Sensitivity", "sensitivity", INT),
        Field("Tasks:ReminderTime", "reminder_time", DATE),
        Field("Tasks:ReminderSet", "reminder_set", BOOL),
    ),
)
