"""MS-ASHTTP: the ``massync.dll`` handler behind /Microsoft-Server-ActiveSync.

OPTIONS answers with the persona's versions and commands. A POST is parsed
(plain or base64 query), checked (protocol version, user enabled for sync,
device ID, provisioning), decoded from WBXML and handed to the command
module; its answer goes back as WBXML, gzipped when the device offers gzip.
Failures are answered in the protocol's terms (HTTP 400/403/449/501/503/507
or a status inside the response, see :mod:`plugins.activesync.errors`);
anything unexpected is a 500 and a "Server ActiveSync" event, never a
traceback on the wire.
"""
from __future__ import annotations

import gzip
import traceback
from contextlib import nullcontext

from webob import Request, Response

from host.eventlog import Level
from plugins.activesync import mailboxlog, provisioning
from plugins.activesync.admission import Admission
from plugins.activesync.backend import BackendError, MailboxFull, open_backend
from plugins.activesync.commands import COMMANDS
from plugins.activesync.context import CommandContext
from plugins.activesync.errors import COMMON_STATUS_NAMES, CommonStatus, EasHttpError
from plugins.activesync.partnership import Partnerships
from plugins.activesync.personas import PERSONAS, V12_1, Persona, ProtocolVersion
from plugins.activesync.plugin import EXCHANGE_SETUP, push_hub
from plugins.activesync.policy import DevicePolicy
from plugins.activesync.query import COMMAND_CODES, EasQuery, check_device, parse_query
from plugins.activesync.usagelog import UsageLog
from plugins.activesync.wbxml import WbxmlError, decode, element, encode

EVENT_SOURCE = "Server ActiveSync"
EVENT_MAILBOX_ERROR = 3005  # MASSYNC could not work with the mailbox (PITFALLS §3.6)
EVENT_UNEXPECTED = 3001  # an unexpected failure inside MASSYNC (ID unverified)
WBXML_TYPE = "application/vnd.ms-sync.wbxml"
LOCK_TIMEOUT_S = 30  # a request of the same device still working on its state: answer "busy" after this
RETRY_AFTER_S = 30
KNOWN_COMMANDS = {name.casefold(): name for name in (*COMMAND_CODES.values(), "GetHierarchy", "CreateCollection",
                                                     "DeleteCollection", "MoveCollection", "Notify")}


def persona_of(config) -> Persona:
    return PERSONAS[config.registry_value(EXCHANGE_SETUP, "EmulatedVersion")]


def advertised_commands(persona: Persona) -> list[str]:
    """The persona's commands that this server implements (MS-ASProtocolCommands)."""
    return [name for name in persona.commands if name in COMMANDS]


def make_app(service):
    """The handler factory registered as ``massync.dll``."""

    def app(environ, start_response):
        req = Request(environ)
        usage = UsageLog()
        persona = persona_of(environ["host.config"])
        body = req.body if req.method == "POST" else b""
        try:
            if req.method == "OPTIONS":
                response = _options(persona)
            elif req.method == "POST":
                response = _post(service, req, body, persona, usage)
            else:
                raise EasHttpError(501, f"{req.method} is not an ActiveSync method", [("Allow", "OPTIONS,POST")])
        except EasHttpError as exc:
            usage.error = usage.error or exc.log
            response = _empty(exc.status, exc.headers)
        except Exception:  # never a traceback to a device
            service.eventlog.write(EVENT_SOURCE, EVENT_UNEXPECTED, Level.ERROR,
                                   f"An unexpected error occurred while serving {req.method} {req.path_qs} for "
                                   f"{environ.get('LOGON_USER', '')}:\n{traceback.format_exc()}")
            usage.error = "ServerError"
            response = _empty(500)
        response.headers["MS-Server-ActiveSync"] = persona.server_version
        if req.method == "POST":
            _mailbox_log(service, req, body, response)
        if "gzip" in req.headers.get("Accept-Encoding", "") and response.body:
            response.body = gzip.compress(response.body, compresslevel=5)
            response.headers["Content-Encoding"] = "gzip"
        environ["host.log"].query_suffix += usage.field()
        return response(environ, start_response)

    return app


def _empty(status: int, headers: list[tuple[str, str]] | None = None) -> Response:
    response = Response(status=status, body=b"")
    response.headers.pop("Content-Type", None)
    for name, value in headers or []:
        response.headers[name] = value
    return response


def _options(persona: Persona) -> Response:
    """MS-ASHTTP 2.2.4 / 3.1.5.1: what this server speaks."""
    response = _empty(200)
    response.headers.update({
        "Allow": "OPTIONS,POST",
        "Public": "OPTIONS,POST",
        "MS-Server-ActiveSync": persona.server_version,
        "MS-ASProtocolVersions": ",".join(persona.versions),
        "MS-ASProtocolCommands": ",".join(advertised_commands(persona)),
        "Cache-Control": "private",
    })
    return response


def _post(service, req: Request, body: bytes, persona: Persona, usage: UsageLog) -> Response:
    query = parse_query(req.query_string, req.headers)
    usage.policy_key = query.policy_key is not None
    command_name = KNOWN_COMMANDS.get(query.command.casefold())
    if command_name is None:
        raise EasHttpError(501, f"{query.command!r} is not an ActiveSync command", log="UnknownCommand")
    if not query.protocol_version or not persona.supports(query.protocol_version):
        raise EasHttpError(400, f"protocol version {query.protocol_version!r} is not one {persona.name} speaks",
                           [("MS-ASProtocolVersions", ",".join(persona.versions))], log="VersionNotSupported")
    version = ProtocolVersion.parse(query.protocol_version)
    usage.version = version.log_code
    module = COMMANDS.get(command_name)
    if module is None or command_name not in persona.commands:
        raise EasHttpError(501, f"{command_name} is not implemented", log="CommandNotSupported")
    if query.encoded and version < V12_1:
        raise EasHttpError(400, "the base64 query needs protocol 12.1 or later (MS-ASHTTP 2.2.1.1.1.1)")
    admission = push_hub(service).admission if command_name == "Ping" else None
    try:
        with admission.turn() if admission is not None else nullcontext():
            check_device(query)
            ctx = _context(service, req, persona, version, query, usage, admission)
            response = _run(ctx, module, body, req.content_type)
    except CommonStatus as exc:
        usage.error = COMMON_STATUS_NAMES.get(exc.code, str(exc.code))
        usage.status = exc.code
        if version.major >= 14:
            response = _wbxml(element(module.ROOT, None, element(_status_tag(module.ROOT), str(exc.code))))
        else:
            retry = [("Retry-After", str(RETRY_AFTER_S))] if exc.http_equivalent == 503 else []
            response = _empty(exc.http_equivalent, retry)
    except BackendError as exc:
        service.eventlog.write(EVENT_SOURCE, EVENT_MAILBOX_ERROR, Level.ERROR,
                               f"An error occurred while MASSYNC accessed the mailbox of "
                               f"{req.environ.get('LOGON_USER', '')} for {command_name}: {exc}")
        usage.error = "MailboxServerError"
        response = _empty(500)
    return response


def _status_tag(root: str) -> str:
    return root.rsplit(":", 1)[0] + ":Status"


def _context(service, req: Request, persona: Persona, version: ProtocolVersion, query: EasQuery,
             usage: UsageLog, admission: Admission | None) -> CommandContext:
    identity = req.environ.get("host.identity")
    user = identity.user if identity is not None else None
    if user is None:
        raise EasHttpError(401, "the request is not authenticated", [("WWW-Authenticate", 'Basic realm=""')])
    if not user.activesync_enabled:
        raise CommonStatus(126, f"{user.logon_name} is not enabled for Exchange ActiveSync")
    backend = open_backend(persona, service, user, req.environ)
    partnerships = Partnerships(backend, user.logon_name)
    partnership, dirty = partnerships.touch(query.device_type, query.device_id,
                                            user_agent=req.headers.get("User-Agent", ""),
                                            protocol_version=str(version), command=query.command)
    return CommandContext(service=service, config=req.environ["host.config"], persona=persona, version=version,
                          query=query, user=user, backend=backend, partnerships=partnerships,
                          partnership=partnership, policy=DevicePolicy.from_config(req.environ["host.config"]),
                          usage=usage, partnership_dirty=dirty, admission=admission)


def _run(ctx: CommandContext, module, body: bytes, content_type: str = "") -> Response:
    request = None
    wants_raw = getattr(module, "raw_body", None)
    if body and wants_raw is not None and wants_raw(ctx, content_type):
        request = body  # MIME (Content-Type: message/rfc822), not WBXML: SendMail and friends
    elif body:
        try:
            request = decode(body)
        except WbxmlError as exc:
            raise CommonStatus(102, f"the body is not WBXML: {exc}") from None
        namespace, _, local = module.ROOT.partition(":")
        if request.tag != f"{{{namespace}}}{local}":
            raise CommonStatus(103, f"the body's root element is not {module.ROOT}")
    if not ctx.lock_device(LOCK_TIMEOUT_S):
        busy = getattr(module, "busy", None)
        if busy is None:
            raise CommonStatus(111, "another request of this device holds its state")
        return _wbxml(busy())
    try:
        provisioning.check(ctx, module.NAME)
        result = module.run(ctx, request)
    except MailboxFull as exc:
        raise CommonStatus(113, str(exc)) from None
    finally:
        ctx.save_partnership()
        ctx.lock.release()
    ctx.usage.mailbox_calls = ctx.backend.calls
    ctx.usage.mailbox_ms = int(ctx.backend.elapsed * 1000)
    if isinstance(result, Response):
        return result
    return _wbxml(result) if result is not None else _empty(200)


def _wbxml(root) -> Response:
    response = Response(status=200, body=encode(root))
    response.headers["Content-Type"] = WBXML_TYPE
    return response


def _mailbox_log(service, req: Request, body: bytes, response: Response) -> None:
    identity = req.environ.get("host.identity")
    user = identity.user.logon_name if identity is not None and identity.user is not None else ""
    if not user or not mailboxlog.is_enabled(service.data_dir, user):
        return
    mailboxlog.record(service.data_dir, user, f"{req.method} {req.path_qs}", list(req.headers.items()), body,
                      response.status, list(response.headers.items()), response.body)
