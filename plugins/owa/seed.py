"""Realistic generated mailbox content, for labs, demos and benchmarks.

Everything is a pure function of a seed and a moment ("now"): the same seed
and moment give the same items, byte for byte. Mail is real MIME (plain and
HTML bodies, quoted-printable and base64, threads with In-Reply-To and
References, attachments that open: CSV, text, PNG) composed directly rather
than through :mod:`email.message`, which is ten times slower and picks random
boundaries; its indexed properties are filled in alongside, exactly as
:meth:`NewItem.from_mime` would index the same bytes. Items are written with
the store's bulk path (``add_items``) in batches, so memory stays flat and
10,000 messages take seconds.

Structured items use these ``properties`` keys (JSON values, times in UTC
ISO 8601): calendar ``start end all_day location organizer attendees
recurrence exceptions time_zone body busy_status reminder_minutes``
(``recurrence``: ``type`` daily|weekly|monthly, ``interval``, ``day_of_week``
as the EAS bit mask (Sunday 1, Monday 2, ...), ``day_of_month``, ``until``);
contacts ``first_name last_name file_as company job_title email1
business_phone mobile_phone business_address body``; tasks ``start_date
due_date status percent_complete complete body``; notes ``body color``.
"""
from __future__ import annotations

import base64
import binascii
import random
import struct
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.header import Header
from email.utils import format_datetime, formataddr

from plugins.owa.mailbox import FolderType, Importance, FlagStatus, MailboxStore, NewItem

BATCH = 500  # items per add_items transaction: one fsync each, bounded memory
_QUOTE_LIMIT = 6000  # characters of a thread quoted in a reply, so long threads stay plausible


@dataclass(frozen=True)
class Person:
    name: str
    address: str

    @property
    def first_name(self) -> str:
        return self.name.split()[0]

    def header(self) -> str:
        """As a header value: RFC 2047-encoded when the name is not ASCII."""
        return formataddr((self.name, self.address))

    def display(self) -> str:
        """As the store indexes the decoded header."""
        return f"{self.name} <{self.address}>"


@dataclass(frozen=True)
class SeedPlan:
    messages: int = 0
    calendar: int = 0
    contacts: int = 0
    tasks: int = 0
    notes: int = 0


# Microsoft's fictitious companies, and colleagues a German lab would have.
EXTERNAL_PEOPLE = (
    Person("Jürgen Weber", "juergen.weber@fabrikam.com"),
    Person("Nancy Davolio", "nancy.davolio@northwindtraders.com"),
    Person("Andrew Fuller", "andrew.fuller@northwindtraders.com"),
    Person("Sabine Müller", "sabine.mueller@adatum.com"),
    Person("Kim Abercrombie", "kim@wingtiptoys.com"),
    Person("Françoise Lefèvre", "f.lefevre@litwareinc.com"),
    Person("Ravi Patel", "ravi.patel@fabrikam.com"),
    Person("Helpdesk", "helpdesk@contoso.com"),
)
TOPICS = (
    "Q3 budget review", "Project Phoenix status", "Customer visit Fabrikam", "Server maintenance this weekend",
    "Team offsite planning", "Updated travel policy", "Exchange 2003 SP2 rollout", "ActiveSync on the new devices",
    "Lunch on Friday?", "Invoice 2006-0412", "Contract renewal Northwind", "Welcome our new starter",
    "Quarterly sales figures", "Printer on the 3rd floor", "Änderung: Besprechungstermin",
    "Schulung Windows Mobile 5.0", "Urlaubsplanung Sommer", "Security update MS06-019", "Holiday schedule",
    "Parking garage closed on Monday", "Draft agenda for Monday", "Firewall change request",
    "Marketing brochure draft", "Expense report reminder", "Direct Push and the firewall timeout",
)
SENTENCES = (
    "Thanks for the quick turnaround on this.", "Please find the latest numbers below.",
    "Could you have a look before Thursday?", "I have attached the file we discussed yesterday.",
    "The vendor confirmed delivery for next week.", "Let me know if anything is unclear.",
    "We still need sign-off from finance.", "I moved the meeting to the larger room.",
    "The devices sync fine over the office wireless, but not over GPRS yet.",
    "Our firewall drops idle connections after 15 minutes, which is shorter than the heartbeat.",
    "Can we keep this on the agenda for the next team meeting?", "I will be out of the office on Friday.",
    "The maintenance window is Saturday from 22:00 to 02:00.", "Backups ran successfully last night.",
    "The customer asked for a revised quote.", "Please update the shared calendar accordingly.",
    "I spoke to Andrew and he agrees with the approach.", "Expenses must be submitted by the 5th.",
    "The new phones arrive with Windows Mobile 5.0 and the Messaging and Security Feature Pack.",
    "Wir sollten das nächste Woche besprechen.", "Die Zahlen für das dritte Quartal sehen gut aus.",
    "Bitte gebt mir bis Mittwoch Bescheid.", "This is a reminder that the office is closed on the holiday.",
    "The draft is attached; comments welcome.", "Let's aim to close this out by the end of the month.",
)
LOCATIONS = ("Room 2.14", "Room 3.01 (Board room)", "Cafeteria", "Fabrikam office, Munich", "Conference call")
COMPANIES = {"fabrikam.com": "Fabrikam, Inc.", "northwindtraders.com": "Northwind Traders",
             "adatum.com": "A. Datum Corporation", "wingtiptoys.com": "Wingtip Toys",
             "litwareinc.com": "Litware, Inc.", "contoso.com": "Contoso, Ltd."}
JOB_TITLES = ("Sales Manager", "IT Administrator", "Project Lead", "Account Executive", "Buyer", "Consultant")
CITIES = (("Munich", "80331", "Germany"), ("Seattle", "98052", "United States"), ("Hamburg", "20095", "Germany"),
          ("London", "EC1A 1BB", "United Kingdom"), ("Zürich", "8001", "Switzerland"))
TASKS = ("Submit expense report", "Review Phoenix project plan", "Renew SSL certificate for OWA",
         "Order new smartphones", "Prepare Q3 forecast", "Update the ActiveSync FAQ", "Book travel to Munich",
         "Call Northwind about the contract")
NOTES = ("Wi-Fi guest password changes on Mondays", "Heartbeat: ask network team about the 15 min timeout",
         "Parking: level -2 is reserved for visitors", "Ideas for the offsite: boat trip, cooking class")
TIME_ZONE = "W. Europe Standard Time"
_EAS_DAYS = {6: 1, 0: 2, 1: 4, 2: 8, 3: 16, 4: 32, 5: 64}  # weekday() -> EAS DayOfWeek bit


def person_of(user) -> Person:
    """A directory user as a correspondent."""
    return Person(user.display_name, user.primary_smtp)


# ---------------------------------------------------------------------------
# Mail
# ---------------------------------------------------------------------------


@dataclass
class _Thread:
    topic: str
    message_ids: list[str]
    last_author: Person
    last_sent: datetime
    last_text: str


class _MailWriter:
    """Generates one mailbox's messages, oldest first, threads included."""

    def __init__(self, rng: random.Random, owner: Person, people: Sequence[Person], count: int,
                 now: datetime) -> None:
        self.rng, self.owner, self.people, self.count = rng, owner, list(people), count
        window = min(max(timedelta(hours=3) * count, timedelta(days=7)), timedelta(days=3 * 365))
        self.clock = now - window
        self.step = window / max(count, 1)
        self.now = now
        self.threads: list[_Thread] = []

    def __iter__(self) -> Iterator[NewItem]:
        for n in range(self.count):
            yield self.message(n)

    def message(self, n: int) -> NewItem:
        rng = self.rng
        self.clock = min(self.clock + self.step * rng.uniform(0.2, 1.8), self.now - timedelta(minutes=1))
        received = self.clock.replace(microsecond=0)
        sent = received - timedelta(seconds=rng.randint(2, 90))
        thread = rng.choice(self.threads) if self.threads and rng.random() < 0.3 else None
        others = [p for p in self.people if thread is None or p != thread.last_author]
        sender = rng.choice(others or self.people)
        cc = [p for p in rng.sample(self.people, k=min(len(self.people), rng.choice((0, 0, 0, 1, 2))))
              if p != sender]
        kind = n % 6  # every shape appears in any dozen: plain, HTML, attachments, long
        text = self._text(sender, long=kind == 5)
        headers = [("From", sender.header()), ("To", self.owner.header())]
        if cc:
            headers.append(("Cc", ", ".join(p.header() for p in cc)))
        if thread is None:
            thread = _Thread(rng.choice(TOPICS), [], sender, sent, "")
            self.threads = (self.threads + [thread])[-20:]
            subject = thread.topic
        else:
            subject = f"RE: {thread.topic}"
            text += (f"\n\n-----Original Message-----\nFrom: {thread.last_author.name}\n"
                     f"Sent: {format_datetime(thread.last_sent)}\nSubject: {thread.topic}\n\n{thread.last_text}")
            headers += [("In-Reply-To", thread.message_ids[-1]), ("References", " ".join(thread.message_ids[-5:]))]
        message_id = f"<{rng.getrandbits(128):032X}@{sender.address.rpartition('@')[2]}>"
        importance = rng.choices((Importance.NORMAL, Importance.HIGH, Importance.LOW), (85, 10, 5))[0]
        headers += [("Subject", _encode_header(subject)), ("Date", format_datetime(sent)),
                    ("Message-ID", message_id), ("Thread-Topic", _encode_header(thread.topic)),
                    ("MIME-Version", "1.0")]
        if importance is not Importance.NORMAL:
            headers.append(("Importance", importance.name.lower()))
        html = _html(text, sender) if kind in (1, 2, 4) else None
        attachment = _attachment(rng, n) if kind == 2 or rng.random() < 0.03 else None
        mime = _compose(rng, headers, text, html, attachment)
        thread.message_ids.append(message_id)
        thread.last_author, thread.last_sent, thread.last_text = sender, sent, text[:_QUOTE_LIMIT]
        age = self.now - received
        return NewItem(
            message_class="IPM.Note", mime=mime, subject=subject, sender=sender.display(),
            to=self.owner.display(), cc=", ".join(p.display() for p in cc), date_sent=sent,
            date_received=received, read=rng.random() < (0.95 if age > timedelta(days=2) else 0.3),
            flag_status=FlagStatus.FLAGGED if rng.random() < 0.05 else FlagStatus.NONE,
            importance=importance, has_attachments=attachment is not None,
        )

    def _text(self, sender: Person, *, long: bool) -> str:
        rng = self.rng
        paragraphs = [" ".join(rng.choices(SENTENCES, k=rng.randint(2, 5)))
                      for _ in range(rng.randint(6, 14) if long else rng.randint(1, 4))]
        return "\n\n".join([f"Hi {self.owner.first_name},", *paragraphs,
                            f"Regards,\n{sender.name}\n{_company(sender.address)}"])


def _company(address: str) -> str:
    return COMPANIES.get(address.rpartition("@")[2], "")


def _encode_header(text: str) -> str:
    return text if text.isascii() else Header(text, "utf-8").encode()


def _attachment(rng: random.Random, n: int) -> tuple[str, str, bytes]:
    """(file name, content type, data): files that open in their application, mostly small."""
    choice = rng.randrange(3)
    if choice == 0:
        count = rng.randint(10, 300)
        regions = rng.choices(("North", "South", "East", "West"), k=count)
        rows = [f"{region},{1 + i % 12:02d}/2006,{1000 + rng.getrandbits(16)}" for i, region in enumerate(regions)]
        return f"figures-{n}.csv", "text/csv", ("Region,Month,Revenue (EUR)\r\n" + "\r\n".join(rows) + "\r\n").encode()
    if choice == 1:
        lines = rng.choices(SENTENCES, k=rng.randint(5, 80))
        return f"notes-{n}.txt", "text/plain", ("\r\n".join(lines) + "\r\n").encode("utf-8")
    side = rng.choice((16, 32, 48, 64, 96, 128)) if rng.random() < 0.97 else 400
    return f"scan-{n}.png", "image/png", _png(rng, side)


def _png(rng: random.Random, side: int) -> bytes:
    """A valid RGB PNG of noise: incompressible (stored, not deflated), so about 3 bytes a pixel."""
    raw = b"".join(b"\x00" + rng.randbytes(side * 3) for _ in range(side))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 0)) + chunk(b"IEND", b"")


def _html(text: str, sender: Person) -> str:
    """Outlook 2003-style HTML; partners' mail links their logo, which OWA's web beacon filter blocks."""
    body = "".join(f"<p>{_escape(p).replace(chr(10), '<br>')}</p>\n" for p in text.split("\n\n"))
    domain = sender.address.rpartition("@")[2]
    if domain != "contoso.com":
        body += f'<p><img src="http://www.{domain}/images/logo.gif" alt="{_escape(_company(sender.address))}"></p>\n'
    return ('<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8"></head>\n'
            '<body><div style="font-family:Arial,sans-serif;font-size:10pt">\n' + body + "</div></body></html>")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _qp(text: str) -> bytes:
    return binascii.b2a_qp(text.encode("utf-8"))


def _leaf(content_type: str, body: bytes, encoding: str, extra: str = "") -> bytes:
    return f"Content-Type: {content_type}\nContent-Transfer-Encoding: {encoding}\n{extra}\n".encode() + body + b"\n"


def _multipart(rng: random.Random, subtype: str, parts: list[bytes]) -> bytes:
    boundary = f"----=_NextPart_{rng.getrandbits(48):012X}"
    head = f'Content-Type: multipart/{subtype};\n\tboundary="{boundary}"\n\n'.encode()
    body = b"This is a multi-part message in MIME format.\n\n"
    for part in parts:
        body += f"--{boundary}\n".encode() + part
    return head + body + f"--{boundary}--\n".encode()


def _compose(rng: random.Random, headers: list[tuple[str, str]], text: str, html: str | None,
             attachment: tuple[str, str, bytes] | None) -> bytes:
    """The message as bytes with CRLF line ends (RFC 5322 2.1)."""
    plain = _leaf('text/plain; charset="utf-8"', _qp(text), "quoted-printable")
    content = plain
    if html is not None:
        content = _multipart(rng, "alternative", [plain, _leaf('text/html; charset="utf-8"', _qp(html),
                                                               "quoted-printable")])
    if attachment is not None:
        name, content_type, data = attachment
        encoded = base64.encodebytes(data)
        disposition = f'Content-Disposition: attachment;\n\tfilename="{name}"\n'
        content = _multipart(rng, "mixed", [content, _leaf(f'{content_type};\n\tname="{name}"', encoded,
                                                           "base64", disposition)])
    head = "".join(f"{name}: {value}\n" for name, value in headers).encode()
    return (head + content).replace(b"\n", b"\r\n")


# ---------------------------------------------------------------------------
# Calendar, contacts, tasks, notes
# ---------------------------------------------------------------------------


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat()


def _calendar(rng: random.Random, owner: Person, people: Sequence[Person], count: int,
              now: datetime) -> Iterator[NewItem]:
    today = now.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    for n in range(count):
        attendees = [{"email": p.address, "name": p.name, "type": "required"}
                     for p in rng.sample(list(people), k=min(len(people), rng.randint(1, 3)))]
        properties = {"organizer": owner.address, "attendees": attendees, "time_zone": TIME_ZONE,
                      "all_day": False, "recurrence": None, "exceptions": [], "busy_status": 2,
                      "reminder_minutes": 15, "location": rng.choice(LOCATIONS)}
        if n == 0:  # the weekly team meeting, Mondays 08:00 UTC, since eight weeks, with two exceptions
            start = today - timedelta(days=today.weekday() + 56) + timedelta(hours=8)
            subject, end = "Weekly team meeting", start + timedelta(hours=1)
            properties.update(recurrence={"type": "weekly", "interval": 1, "day_of_week": _EAS_DAYS[0],
                                          "until": None},
                              exceptions=[{"start": _iso(start + timedelta(weeks=3)), "deleted": True},
                                          {"start": _iso(start + timedelta(weeks=5)), "deleted": False,
                                           "location": "Room 3.01 (Board room)"}])
        elif n == 1:
            start = today + timedelta(days=rng.randint(3, 14))
            subject, end = "Training: Windows Mobile 5.0 and Direct Push", start + timedelta(days=1)
            properties.update(all_day=True, busy_status=3, location="Training center")
        else:
            start = today + timedelta(days=rng.randint(-30, 60), hours=rng.randint(7, 15),
                                      minutes=rng.choice((0, 30)))
            subject = rng.choice(TOPICS)
            end = start + timedelta(minutes=rng.choice((30, 60, 60, 90, 120)))
            if n % 5 == 4:
                properties["recurrence"] = {"type": "monthly", "interval": 1, "day_of_month": start.day,
                                            "until": _iso(start + timedelta(days=365))}
        properties.update(start=_iso(start), end=_iso(end), body=" ".join(rng.choices(SENTENCES, k=2)))
        yield NewItem(message_class="IPM.Appointment", subject=subject, sender=owner.display(),
                      read=True, properties=properties)


def _contacts(rng: random.Random, people: Sequence[Person], count: int) -> Iterator[NewItem]:
    for n in range(count):
        if n < len(people):
            person = people[n]
            first, _, last = person.name.partition(" ")
            email = person.address
        else:
            first = rng.choice(("Anna", "Lukas", "Maria", "Tom", "Lena", "Paul", "Emma", "Jonas", "Sofia"))
            last = rng.choice(("Schmidt", "Fischer", "Meyer", "Wagner", "Becker", "Hoffmann", "Schulz", "Koch"))
            domain = rng.choice(list(COMPANIES))
            email = f"{first.lower()}.{last.lower()}{n}@{domain}"
        city, postal_code, country = rng.choice(CITIES)
        properties = {
            "first_name": first, "last_name": last, "file_as": f"{last}, {first}" if last else first,
            "company": _company(email), "job_title": rng.choice(JOB_TITLES), "email1": email,
            "business_phone": f"+49 89 {rng.randint(1000000, 9999999)}",
            "mobile_phone": f"+49 170 {rng.randint(1000000, 9999999)}",
            "business_address": {"street": f"{rng.choice(('Main', 'Market', 'Lake'))} Street {rng.randint(1, 99)}",
                                 "city": city, "postal_code": postal_code, "country": country},
            "body": "",
        }
        yield NewItem(message_class="IPM.Contact", subject=f"{first} {last}".strip(), read=True,
                      properties=properties)


def _tasks(rng: random.Random, count: int, now: datetime) -> Iterator[NewItem]:
    for n in range(count):
        start = now - timedelta(days=rng.randint(0, 20))
        status = rng.choice(("not_started", "in_progress", "completed"))
        percent = {"not_started": 0, "in_progress": rng.choice((25, 50, 75)), "completed": 100}[status]
        properties = {"start_date": _iso(start), "due_date": _iso(start + timedelta(days=rng.randint(1, 30))),
                      "status": status, "percent_complete": percent, "complete": status == "completed",
                      "body": rng.choice(SENTENCES)}
        yield NewItem(message_class="IPM.Task", subject=TASKS[n % len(TASKS)], read=True,
                      importance=Importance.HIGH if n == 0 else Importance.NORMAL, properties=properties)


def _notes(rng: random.Random, count: int) -> Iterator[NewItem]:
    for n in range(count):
        title = NOTES[n % len(NOTES)]
        yield NewItem(message_class="IPM.StickyNote", subject=title, read=True,
                      properties={"body": f"{title}\n{rng.choice(SENTENCES)}", "color": 3})


# ---------------------------------------------------------------------------
# Writing to the store
# ---------------------------------------------------------------------------


def generate(owner: Person, correspondents: Sequence[Person], plan: SeedPlan, *, seed: int,
             now: datetime) -> dict[FolderType, Iterator[NewItem]]:
    """Lazy item streams per default folder; the same arguments give the same items."""
    rng = random.Random(seed)
    people = [p for p in correspondents if p.address.casefold() != owner.address.casefold()] or [owner]
    now = now.astimezone(timezone.utc)
    # One generator per folder, each with its own stream, so adding contacts
    # does not change the messages a seed gives.
    streams = {kind: random.Random(rng.getrandbits(64)) for kind in range(5)}
    return {
        FolderType.INBOX: iter(_MailWriter(streams[0], owner, people, plan.messages, now)),
        FolderType.CALENDAR: _calendar(streams[1], owner, people, plan.calendar, now),
        FolderType.CONTACTS: _contacts(streams[2], people, plan.contacts),
        FolderType.TASKS: _tasks(streams[3], plan.tasks, now),
        FolderType.NOTES: _notes(streams[4], plan.notes),
    }


def seed_mailbox(store: MailboxStore, mailbox_id: str, owner: Person, correspondents: Sequence[Person],
                 plan: SeedPlan, *, seed: int, now: datetime, mail_folder_id: int | None = None) -> dict[str, int]:
    """Add the plan's items (mail to ``mail_folder_id``, default the Inbox); return counts by folder name.

    Each batch is one transaction: a quota hit stops the seeding with the
    batches before it stored, as an import on Exchange would.
    """
    counts: dict[str, int] = {}
    for folder_type, items in generate(owner, correspondents, plan, seed=seed, now=now).items():
        folder = store.default_folder(mailbox_id, folder_type)
        if folder_type is FolderType.INBOX and mail_folder_id is not None:
            folder = store.get_folder(mailbox_id, mail_folder_id)
        for batch in _batches(items):
            added = store.add_items(mailbox_id, folder.id, batch)
            counts[folder.display_name] = counts.get(folder.display_name, 0) + len(added)
    return counts


def _batches(items: Iterator[NewItem]) -> Iterator[list[NewItem]]:
    batch: list[NewItem] = []
    for item in items:
        batch.append(item)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


DEMO_PLAN = SeedPlan(messages=12, calendar=4, contacts=6, tasks=3, notes=1)


def fill_demo_mailbox(store: MailboxStore, mailbox_id: str, user, colleagues: Sequence, *,
                      now: datetime) -> dict[str, int]:
    """A demo user's first mailbox: a dozen messages from colleagues and partners, a recurring
    meeting, contacts, tasks and a note. Seeded by the user's name, so alice always sees the same."""
    owner = person_of(user)
    people = [person_of(c) for c in colleagues] + list(EXTERNAL_PEOPLE)
    seed = zlib.crc32(user.logon_name.casefold().encode())
    return seed_mailbox(store, mailbox_id, owner, people, DEMO_PLAN, seed=seed, now=now)

