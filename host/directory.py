"""The lab's Active Directory: domains, users, NT hashes, proxy addresses, home server.

Exchange 2003 took everything it knew about a mailbox user from AD: the logon
names (``DOMAIN\\sAMAccountName`` and the userPrincipalName), the
proxyAddresses that decide which SMTP domains a mailbox answers to, and the
homeMDB that names the server holding the mailbox. The lab keeps the same
attributes in SQLite so that the pitfalls that hinge on them (a user without
an address in the /exchange vdir's SMTP domain, a mailbox homed on another
server, a disabled account) come out of the same data an admin would edit.

Like AD, the directory keeps the NT hash (MD4 of the UTF-16LE password) and
never the password. The hash is what NTLM and Basic both verify against, so
one record serves both. pyspnego's NTLM acceptor reads hashes from an
smbpasswd-format file named by ``NTLM_USER_FILE``; every write transaction
rewrites that file (see :meth:`Directory.ntlm_user_file`) before it commits,
so the host and a CLI process can both use the directory at once.
"""
from __future__ import annotations

import hmac
import os
import re
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from Crypto.Hash import MD4

DEMO_PASSWORD = "P@ssw0rd"
DEFAULT_HOME_SERVER = "EXCHANGE01"

# AD's pre-Windows 2000 logon name: at most 20 characters, none of these.
# '@' is refused too (AD allows it) so that "x@y" always means a UPN here.
_SAM_FORBIDDEN = set('"/\\[]:;|=,+*?<>@')
_NETBIOS_FORBIDDEN = set('\\/:*?"<>|.@ ')
_DNS_NAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")
_MAIL_ADDRESS = re.compile(r"^[^@\s:\\]+@[^@\s:\\]+$")

# smbpasswd has an LM hash column; AD stopped storing LM hashes (NoLMHash), and
# dumps show this value, the LM hash of the empty password, in its place.
# pyspnego only looks at it for LM responses, which the NTLM acceptor refuses.
_NO_LM_HASH = "AAD3B435B51404EEAAD3B435B51404EE"

SCHEMA_VERSION = 1
# _MIGRATIONS[n] takes the schema from version n to n + 1. Statements run one
# by one inside the open transaction (executescript would commit early).
_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE domains (
            netbios_key TEXT PRIMARY KEY,
            netbios TEXT NOT NULL,
            dns_key TEXT NOT NULL UNIQUE,
            dns TEXT NOT NULL,
            position INTEGER NOT NULL
        )""",
        """CREATE TABLE users (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            domain_key TEXT NOT NULL REFERENCES domains(netbios_key),
            sam_account_name TEXT NOT NULL,
            sam_key TEXT NOT NULL,
            upn TEXT NOT NULL,
            upn_key TEXT NOT NULL UNIQUE,
            display_name TEXT NOT NULL,
            home_server TEXT NOT NULL,
            activesync_enabled INTEGER NOT NULL,
            account_enabled INTEGER NOT NULL,
            nt_hash BLOB NOT NULL,
            password_last_set INTEGER NOT NULL,
            UNIQUE (domain_key, sam_key)
        )""",
        """CREATE TABLE proxy_addresses (
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            address TEXT NOT NULL,
            address_key TEXT NOT NULL UNIQUE
        )""",
    ),
)

_UPDATABLE = frozenset(
    {"display_name", "upn", "proxy_addresses", "home_server", "activesync_enabled", "account_enabled"}
)


class DirectoryError(Exception):
    """A directory operation AD would refuse; the message names the object and why."""


def nt_hash(password: str) -> bytes:
    """NTOWFv1: MD4 of the UTF-16LE password, what AD stores as unicodePwd.

    hashlib has no MD4 on OpenSSL 3 and pyspnego's MD4 is private, hence
    pycryptodome.
    """
    return MD4.new(password.encode("utf-16-le", errors="surrogatepass")).digest()


@dataclass(frozen=True)
class User:
    """A mail-enabled user as Exchange reads it from AD."""

    domain: str
    sam_account_name: str
    upn: str
    display_name: str
    proxy_addresses: tuple[str, ...]
    home_server: str
    activesync_enabled: bool
    account_enabled: bool
    password_last_set: datetime | None = None

    @property
    def logon_name(self) -> str:
        """``CONTOSO\\alice``, the down-level logon name IIS puts in LOGON_USER."""
        return f"{self.domain}\\{self.sam_account_name}"

    @property
    def primary_smtp(self) -> str:
        """The address of the one ``SMTP:`` proxy address (the reply address)."""
        return next(a[5:] for a in self.proxy_addresses if a.startswith("SMTP:"))

    def smtp_addresses(self) -> list[str]:
        """Every SMTP address the mailbox answers to, primary first, without prefixes."""
        secondary = [a[5:] for a in self.proxy_addresses if a[:5] == "smtp:"]
        return [self.primary_smtp, *secondary]


def _key(text: str) -> str:
    """Comparison key: AD matches names and addresses case-insensitively."""
    return text.casefold()


def _check_sam(sam: str) -> None:
    if not sam or len(sam) > 20 or sam.strip(". ") == "":
        raise DirectoryError(f"invalid sAMAccountName {sam!r}: 1 to 20 characters, not only dots or spaces")
    bad = sorted(set(sam) & _SAM_FORBIDDEN) + [c for c in sam if not c.isprintable()]
    if bad:
        raise DirectoryError(f"invalid sAMAccountName {sam!r}: it may not contain {''.join(bad)!r}")


def _check_upn(upn: str) -> None:
    if not _MAIL_ADDRESS.match(upn) or not upn.isprintable():
        raise DirectoryError(f"invalid userPrincipalName {upn!r}: expected name@suffix")


def _check_proxy_addresses(addresses: Iterable[str]) -> tuple[str, ...]:
    """Exchange's rules: ``type:address``, one primary (upper-case type) per type, one SMTP: exactly."""
    checked: list[str] = []
    primaries: dict[str, str] = {}
    for entry in addresses:
        kind, sep, address = entry.partition(":")
        if not sep or not kind or not address or not entry.isprintable():
            raise DirectoryError(f"invalid proxy address {entry!r}: expected TYPE:address, e.g. SMTP:alice@contoso.com")
        if kind.upper() == "SMTP" and not _MAIL_ADDRESS.match(address):
            raise DirectoryError(f"invalid SMTP address {address!r}")
        if kind.isupper():
            if kind.upper() in primaries:
                raise DirectoryError(
                    f"two primary {kind} addresses: {primaries[kind]} and {entry}; "
                    f"write secondary addresses with a lower-case prefix ({kind.lower()}:)"
                )
            primaries[kind] = entry
        checked.append(entry)
    if "SMTP" not in primaries:
        raise DirectoryError("no primary SMTP address: exactly one proxy address must start with SMTP:")
    return tuple(checked)


def _split_logon(logon: str) -> tuple[str | None, str]:
    """``DOMAIN\\sam`` -> (DOMAIN, sam); ``sam`` -> (None, sam)."""
    if "\\" in logon:
        domain, sam = logon.split("\\", 1)
        return domain, sam
    return None, logon


def _lct(timestamp: int) -> str:
    return f"LCT-{timestamp & 0xFFFFFFFF:08X}"


class Directory:
    """The directory database in ``data_dir/directory.db`` and the NTLM credential file beside it.

    One instance may be shared by the host's worker threads: a write opens its
    own SQLite connection, a read borrows an idle one (every request looks a
    user up, often twice, and opening a connection costs more than the
    query); WAL and ``BEGIN IMMEDIATE`` let another process (the CLI) read and
    write at the same time, and each read is its own transaction, so it sees
    what the CLI committed.
    """

    MAX_IDLE_READERS = 8

    def __init__(self, data_dir: Path, default_home_server: str) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.path = self.data_dir / "directory.db"
        self.ntlm_user_file = self.data_dir / "ntlm_users"
        self.default_home_server = default_home_server
        self._idle_readers: list[sqlite3.Connection] = []
        self._readers_guard = threading.Lock()

    @classmethod
    def open(
        cls,
        data_dir: Path,
        *,
        seed_demo: bool = True,
        default_home_server: str = DEFAULT_HOME_SERVER,
    ) -> Directory:
        """Open the directory, creating and migrating it as needed.

        A new database is seeded (when ``seed_demo``) with CONTOSO/contoso.com
        and the demo users CONTOSO\\alice and CONTOSO\\bob, password
        ``P@ssw0rd``. Seeding belongs to creation, so a demo user an admin
        deleted stays deleted.
        """
        directory = cls(data_dir, default_home_server)
        directory.data_dir.mkdir(parents=True, exist_ok=True)
        # The database holds password equivalents: create it owner-only before
        # SQLite does (its -wal and -shm files copy the database's mode).
        if not directory.path.exists():
            os.close(os.open(directory.path, os.O_CREAT | os.O_WRONLY, 0o600))
        with closing(directory._connect()) as db:
            db.execute("PRAGMA journal_mode=WAL")
        with directory._transaction() as db:
            version = directory._migrate(db)
            if version == 0 and seed_demo:
                directory._seed(db)
        return directory

    # -- domains -------------------------------------------------------------

    @property
    def default_domain(self) -> str:
        """NetBIOS name of the first domain: where a bare ``alice`` logs on."""
        with self._reading() as db:
            row = db.execute("SELECT netbios FROM domains ORDER BY position LIMIT 1").fetchone()
        if row is None:
            raise DirectoryError("the directory has no domain yet; add one first")
        return row[0]

    def domains(self) -> list[tuple[str, str]]:
        """(NetBIOS name, DNS name) pairs, the default domain first."""
        with self._reading() as db:
            return [tuple(r) for r in db.execute("SELECT netbios, dns FROM domains ORDER BY position")]

    def add_domain(self, netbios: str, dns: str) -> None:
        """Add a domain; the first one added becomes the default domain."""
        with self._transaction() as db:
            self._insert_domain(db, netbios, dns)

    # -- users ---------------------------------------------------------------

    def add_user(
        self,
        logon: str,
        password: str,
        *,
        display_name: str | None = None,
        upn: str | None = None,
        smtp: list[str] | None = None,
        home_server: str | None = None,
    ) -> User:
        """Create an enabled, ActiveSync-enabled mailbox user.

        :param logon: ``CONTOSO\\carol``, ``contoso.com\\carol`` or ``carol`` (default domain).
        :param smtp: plain addresses, the first becomes the primary; default ``sam@dnsdomain``.
        """
        with self._transaction() as db:
            domain_key, netbios, dns = self._domain_of(db, logon)
            _, sam = _split_logon(logon)
            _check_sam(sam)
            existing = db.execute(
                "SELECT sam_account_name FROM users WHERE domain_key = ? AND sam_key = ?", (domain_key, _key(sam))
            ).fetchone()
            if existing:
                raise DirectoryError(f"user {netbios}\\{existing[0]} already exists")
            upn = upn or f"{sam}@{dns}"
            _check_upn(upn)
            self._check_upn_free(db, upn, None)
            addresses = smtp or [f"{sam}@{dns}"]
            for address in addresses:
                if ":" in address:
                    raise DirectoryError(f"give plain SMTP addresses, not {address!r}; the first one is the primary")
            proxies = _check_proxy_addresses(
                [f"SMTP:{addresses[0]}", *(f"smtp:{a}" for a in addresses[1:])]
            )
            user_id = self._insert_user(
                db, domain_key, sam, upn, display_name or sam, home_server or self.default_home_server, password
            )
            self._store_proxy_addresses(db, user_id, proxies)
            return self._load(db, user_id)

    def set_password(self, logon: str, password: str) -> None:
        """Replace the NT hash; the next NTLM handshake or Basic logon sees it."""
        with self._transaction() as db:
            user_id = self._require(db, logon)
            db.execute(
                "UPDATE users SET nt_hash = ?, password_last_set = ? WHERE id = ?",
                (nt_hash(password), int(time.time()), user_id),
            )

    def update_user(self, logon: str, **attrs: object) -> User:
        """Change display_name, upn, proxy_addresses, home_server, activesync_enabled or account_enabled."""
        unknown = set(attrs) - _UPDATABLE
        if unknown:
            raise DirectoryError(
                f"unknown user attribute {', '.join(sorted(unknown))}; known: {', '.join(sorted(_UPDATABLE))}"
            )
        with self._transaction() as db:
            user_id = self._require(db, logon)
            for name in ("activesync_enabled", "account_enabled"):
                if name in attrs:
                    if not isinstance(attrs[name], bool):
                        raise DirectoryError(f"{name} must be True or False, not {attrs[name]!r}")
                    db.execute(f"UPDATE users SET {name} = ? WHERE id = ?", (int(attrs[name]), user_id))
            for name in ("display_name", "home_server"):
                if name in attrs:
                    value = attrs[name]
                    if not isinstance(value, str) or not value.strip():
                        raise DirectoryError(f"{name} must be a non-empty string, not {value!r}")
                    db.execute(f"UPDATE users SET {name} = ? WHERE id = ?", (value, user_id))
            if "upn" in attrs:
                upn = str(attrs["upn"])
                _check_upn(upn)
                self._check_upn_free(db, upn, user_id)
                db.execute("UPDATE users SET upn = ?, upn_key = ? WHERE id = ?", (upn, _key(upn), user_id))
            if "proxy_addresses" in attrs:
                value = attrs["proxy_addresses"]
                if isinstance(value, str):
                    raise DirectoryError("proxy_addresses must be a list of TYPE:address strings")
                proxies = _check_proxy_addresses(value)  # type: ignore[arg-type]
                db.execute("DELETE FROM proxy_addresses WHERE user_id = ?", (user_id,))
                self._store_proxy_addresses(db, user_id, proxies)
            return self._load(db, user_id)

    def remove_user(self, logon: str) -> None:
        """Delete the user and its proxy addresses (the mailbox is the store's business)."""
        with self._transaction() as db:
            db.execute("DELETE FROM users WHERE id = ?", (self._require(db, logon),))

    def users(self) -> list[User]:
        """All users, by domain order then sAMAccountName."""
        with self._reading() as db:
            ids = db.execute(
                """SELECT u.id FROM users u JOIN domains d ON d.netbios_key = u.domain_key
                   ORDER BY d.position, u.sam_key"""
            ).fetchall()
            return [self._load(db, user_id) for (user_id,) in ids]

    def find(self, name: str, *, default_domain: str | None = None) -> User | None:
        """Resolve a logon name the way Windows does, case-insensitively.

        ``CONTOSO\\alice`` and ``contoso.com\\alice`` name the domain;
        ``alice@contoso.com`` is the UPN, or failing that the implicit UPN
        (sAMAccountName@DNS domain); a bare ``alice`` logs on to
        ``default_domain`` (NetBIOS or DNS name), else the directory's default.
        """
        with self._reading() as db:
            user_id = self._lookup(db, name, default_domain)
            return None if user_id is None else self._load(db, user_id)

    def find_by_smtp(self, address: str) -> User | None:
        """The user any of whose proxy addresses is ``address`` (with or without ``smtp:``)."""
        if address[:5].casefold() == "smtp:":
            address = address[5:]
        with self._reading() as db:
            row = db.execute(
                "SELECT user_id FROM proxy_addresses WHERE address_key = ?", (_key(f"smtp:{address}"),)
            ).fetchone()
            return None if row is None else self._load(db, row[0])

    def verify_password(self, name: str, password: str, *, default_domain: str | None = None) -> User | None:
        """The user if ``password`` matches its NT hash and the account is enabled, else None.

        Basic authentication lands here. The hash is computed and compared
        (in constant time) for unknown users too, so a wrong name costs the
        same hashing work as a wrong password.
        """
        offered = nt_hash(password)
        with self._reading() as db:
            user_id = self._lookup(db, name, default_domain)
            row = None
            if user_id is not None:
                row = db.execute(
                    "SELECT nt_hash, account_enabled FROM users WHERE id = ?", (user_id,)
                ).fetchone()
            stored, enabled = row if row else (bytes(16), 0)
            matches = hmac.compare_digest(offered, stored)
            if user_id is None or not matches or not enabled:
                return None
            return self._load(db, user_id)

    # -- storage -------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=10.0, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA foreign_keys = ON")
        return db

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: one consistent snapshot for multi-query reads, on an idle connection."""
        with self._readers_guard:
            db = self._idle_readers.pop() if self._idle_readers else None
        if db is None:
            db = self._connect()
        try:
            db.execute("BEGIN")
            try:
                yield db
            finally:
                db.execute("COMMIT")
        except BaseException:
            db.close()
            raise
        with self._readers_guard:
            if len(self._idle_readers) < self.MAX_IDLE_READERS:
                self._idle_readers.append(db)
                return
        db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that also rewrites the NTLM credential file.

        ``BEGIN IMMEDIATE`` takes SQLite's write lock up front, so writers from
        every process are serialised; the file is rewritten from the
        transaction's own view just before commit, so the last writer leaves
        the file that matches the committed data.
        """
        with closing(self._connect()) as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                self._write_ntlm_user_file(db)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def _migrate(self, db: sqlite3.Connection) -> int:
        """Bring the schema to SCHEMA_VERSION; return the version found (0 = new)."""
        db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = db.execute("SELECT version FROM schema_version").fetchone()
        found = row[0] if row else 0
        if found > SCHEMA_VERSION:
            raise DirectoryError(
                f"{self.path} has schema version {found}; this easlab understands up to {SCHEMA_VERSION}"
            )
        for migration in _MIGRATIONS[found:]:
            for statement in migration:
                db.execute(statement)
        db.execute("DELETE FROM schema_version")
        db.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
        return found

    def _seed(self, db: sqlite3.Connection) -> None:
        self._insert_domain(db, "CONTOSO", "contoso.com")
        for sam, display_name in (("alice", "Alice Wood"), ("bob", "Bob Kelly")):
            user_id = self._insert_user(
                db, "contoso", sam, f"{sam}@contoso.com", display_name, self.default_home_server, DEMO_PASSWORD
            )
            self._store_proxy_addresses(db, user_id, (f"SMTP:{sam}@contoso.com",))

    def _insert_user(
        self,
        db: sqlite3.Connection,
        domain_key: str,
        sam: str,
        upn: str,
        display_name: str,
        home_server: str,
        password: str,
    ) -> int:
        cursor = db.execute(
            """INSERT INTO users (domain_key, sam_account_name, sam_key, upn, upn_key, display_name,
                   home_server, activesync_enabled, account_enabled, nt_hash, password_last_set)
               VALUES (?, ?, ?, ?, ?, ?, ?, 1, 1, ?, ?)""",
            (domain_key, sam, _key(sam), upn, _key(upn), display_name, home_server, nt_hash(password), int(time.time())),
        )
        return cursor.lastrowid

    def _insert_domain(self, db: sqlite3.Connection, netbios: str, dns: str) -> None:
        netbios, dns = netbios.upper(), dns.lower().rstrip(".")
        if not netbios or len(netbios) > 15 or set(netbios) & _NETBIOS_FORBIDDEN or not netbios.isprintable():
            raise DirectoryError(f"invalid NetBIOS domain name {netbios!r}: 1 to 15 characters, no dots or \\/:*?\"<>|")
        if not _DNS_NAME.match(dns):
            raise DirectoryError(f"invalid DNS domain name {dns!r}")
        for column, value in (("netbios_key", netbios), ("dns_key", dns), ("netbios_key", dns), ("dns_key", netbios)):
            if db.execute(f"SELECT 1 FROM domains WHERE {column} = ?", (_key(value),)).fetchone():
                raise DirectoryError(f"domain name {value} is already in use")
        position = db.execute("SELECT COALESCE(MAX(position), -1) + 1 FROM domains").fetchone()[0]
        db.execute(
            "INSERT INTO domains (netbios_key, netbios, dns_key, dns, position) VALUES (?, ?, ?, ?, ?)",
            (_key(netbios), netbios, _key(dns), dns, position),
        )

    def _domain_row(self, db: sqlite3.Connection, name: str) -> tuple[str, str, str] | None:
        """(netbios_key, netbios, dns) of the domain called ``name`` (NetBIOS or DNS)."""
        return db.execute(
            "SELECT netbios_key, netbios, dns FROM domains WHERE netbios_key = ? OR dns_key = ?",
            (_key(name), _key(name.rstrip("."))),
        ).fetchone()

    def _domain_of(self, db: sqlite3.Connection, logon: str) -> tuple[str, str, str]:
        domain, _ = _split_logon(logon)
        if "@" in logon and domain is None:
            raise DirectoryError(f"give the logon name as DOMAIN\\user, not {logon!r}")
        if domain is None:
            row = db.execute("SELECT netbios_key, netbios, dns FROM domains ORDER BY position LIMIT 1").fetchone()
            if row is None:
                raise DirectoryError("the directory has no domain yet; add one first")
            return row
        row = self._domain_row(db, domain)
        if row is None:
            known = ", ".join(r[0] for r in db.execute("SELECT netbios FROM domains ORDER BY position"))
            raise DirectoryError(f"no such domain {domain}; known domains: {known or 'none'}")
        return row

    def _lookup(self, db: sqlite3.Connection, name: str, default_domain: str | None) -> int | None:
        domain, sam = _split_logon(name)
        if domain is None and "@" in sam:
            row = db.execute("SELECT id FROM users WHERE upn_key = ?", (_key(sam),)).fetchone()
            if row:
                return row[0]
            sam, _, domain = sam.rpartition("@")
            if not sam:
                return None
            dns_row = db.execute("SELECT netbios_key FROM domains WHERE dns_key = ?", (_key(domain),)).fetchone()
            domain_key = dns_row[0] if dns_row else None
        else:
            if domain is None:
                domain = default_domain
            if domain is None:
                row = db.execute("SELECT netbios_key FROM domains ORDER BY position LIMIT 1").fetchone()
                domain_key = row[0] if row else None
            else:
                row = self._domain_row(db, domain)
                domain_key = row[0] if row else None
        if domain_key is None:
            return None
        row = db.execute(
            "SELECT id FROM users WHERE domain_key = ? AND sam_key = ?", (domain_key, _key(sam))
        ).fetchone()
        return row[0] if row else None

    def _require(self, db: sqlite3.Connection, logon: str) -> int:
        user_id = self._lookup(db, logon, None)
        if user_id is None:
            shown = logon
            if "\\" not in logon and "@" not in logon:
                row = db.execute("SELECT netbios FROM domains ORDER BY position LIMIT 1").fetchone()
                shown = f"{row[0]}\\{logon}" if row else logon
            raise DirectoryError(f"no such user {shown}")
        return user_id

    def _check_upn_free(self, db: sqlite3.Connection, upn: str, user_id: int | None) -> None:
        row = db.execute(
            """SELECT u.upn, d.netbios, u.sam_account_name FROM users u
               JOIN domains d ON d.netbios_key = u.domain_key WHERE u.upn_key = ? AND u.id IS NOT ?""",
            (_key(upn), user_id),
        ).fetchone()
        if row:
            raise DirectoryError(f"userPrincipalName {row[0]} already belongs to {row[1]}\\{row[2]}")

    def _store_proxy_addresses(self, db: sqlite3.Connection, user_id: int, proxies: Iterable[str]) -> None:
        for position, entry in enumerate(proxies):
            owner = db.execute(
                """SELECT p.address, d.netbios, u.sam_account_name FROM proxy_addresses p
                   JOIN users u ON u.id = p.user_id JOIN domains d ON d.netbios_key = u.domain_key
                   WHERE p.address_key = ? AND p.user_id != ?""",
                (_key(entry), user_id),
            ).fetchone()
            if owner:
                kind, _, address = owner[0].partition(":")
                shown = address if kind.upper() == "SMTP" else owner[0]
                raise DirectoryError(f"proxy address {shown} already belongs to {owner[1]}\\{owner[2]}")
            try:
                db.execute(
                    "INSERT INTO proxy_addresses (user_id, position, address, address_key) VALUES (?, ?, ?, ?)",
                    (user_id, position, entry, _key(entry)),
                )
            except sqlite3.IntegrityError:
                raise DirectoryError(f"proxy address {entry} is listed twice") from None

    def _load(self, db: sqlite3.Connection, user_id: int) -> User:
        row = db.execute(
            """SELECT d.netbios, u.sam_account_name, u.upn, u.display_name, u.home_server,
                      u.activesync_enabled, u.account_enabled, u.password_last_set
               FROM users u JOIN domains d ON d.netbios_key = u.domain_key WHERE u.id = ?""",
            (user_id,),
        ).fetchone()
        proxies = tuple(
            r[0]
            for r in db.execute(
                "SELECT address FROM proxy_addresses WHERE user_id = ? ORDER BY position", (user_id,)
            )
        )
        return User(
            domain=row[0],
            sam_account_name=row[1],
            upn=row[2],
            display_name=row[3],
            proxy_addresses=proxies,
            home_server=row[4],
            activesync_enabled=bool(row[5]),
            account_enabled=bool(row[6]),
            password_last_set=datetime.fromtimestamp(row[7], timezone.utc),
        )

    # -- the NTLM credential file ------------------------------------------

    def _ntlm_lines(self, db: sqlite3.Connection) -> list[str]:
        """smbpasswd lines, one per logon name pyspnego may be handed, enabled users only.

        pyspnego matches the client's (domain, user) pair case-insensitively
        against ``DOMAIN\\user`` entries, and a UPN logon (no domain) against
        bare ``user@suffix`` entries, first match wins. So each user gets its
        NetBIOS and DNS domain forms and its UPN; then come the implicit UPNs
        (sAMAccountName@DNS domain) and bare names of default-domain users,
        after every explicit UPN so that an explicit UPN wins as it does in AD.
        """
        rows = db.execute(
            """SELECT u.id, d.netbios, d.dns, d.position, u.sam_account_name, u.upn, u.nt_hash,
                      u.password_last_set
               FROM users u JOIN domains d ON d.netbios_key = u.domain_key
               WHERE u.account_enabled = 1 ORDER BY d.position, u.sam_key"""
        ).fetchall()
        default_position = db.execute("SELECT MIN(position) FROM domains").fetchone()[0]
        explicit = [(r, [f"{r[1]}\\{r[4]}", f"{r[2]}\\{r[4]}", r[5]]) for r in rows]
        implicit = [(r, [f"{r[4]}@{r[2]}"] + ([r[4]] if r[3] == default_position else [])) for r in rows]
        lines: list[str] = []
        seen: set[str] = set()
        for (user_id, *_, hash_, last_set), names in explicit + implicit:
            for name in names:
                if _key(name) in seen:
                    continue
                seen.add(_key(name))
                lines.append(f"{name}:{user_id}:{_NO_LM_HASH}:{hash_.hex().upper()}:[U          ]:{_lct(last_set)}")
        return lines

    def _write_ntlm_user_file(self, db: sqlite3.Connection) -> None:
        """Atomically replace the credential file; mkstemp makes it 0600 from the start."""
        text = "".join(f"{line}\n" for line in self._ntlm_lines(db))
        fd, temp = tempfile.mkstemp(prefix=".ntlm_users.", dir=self.data_dir)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, self.ntlm_user_file)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
