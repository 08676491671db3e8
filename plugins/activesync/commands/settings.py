"""Settings (MS-ASCMD 2.2.1.18): Oof, DevicePassword, DeviceInformation, UserInformation, RightsManagementInformation.

Each property element of the request gets its own element with a Status in
the response, in the request's order, after the command's Status. Statuses
(2.2.3.177.14): 1 success, 2 protocol error, 5 invalid arguments (an
OofState or time that does not parse), 6 conflicting arguments (EndTime not
after StartTime). Not part of protocol 2.5.

Oof is the Out of Office state OWA shows (:mod:`plugins.owa.pages.outofoffice`),
read and written through the mailbox like every other state, so a setting
made on the phone is what OWA shows and the other way round. Exchange 2003
knew one switch and one text; the EAS extras (the time window of OofState 2,
separate replies for external senders) are kept beside them in the same
item. OWA saving the setting drops the extras, as the switch it shows is
all it knows; a scheduled setting counts as "on" for OWA when written within
its window.
"""
from __future__ import annotations

import html
import json
from datetime import datetime, timezone

from lxml import etree

from plugins.activesync.context import CommandContext
from plugins.activesync.errors import not_in_version
from plugins.activesync.items.body import html_to_text
from plugins.activesync.items.values import eas_datetime, parse_datetime
from plugins.activesync.personas import V12_0, V14_1
from plugins.activesync.wbxml import element
from plugins.owa.pages import outofoffice

NAME = "Settings"
ROOT = "Settings:Settings"
ST = "{Settings}"
SUCCESS, PROTOCOL_ERROR, INVALID_ARGUMENTS, CONFLICTING_ARGUMENTS = 1, 2, 5, 6
AUDIENCES = ("AppliesToInternal", "AppliesToExternalKnown", "AppliesToExternalUnknown")
_KEYS = {"AppliesToInternal": "internal", "AppliesToExternalKnown": "external_known",
         "AppliesToExternalUnknown": "external_unknown"}


def _status(name: str, code: int, *extra: etree._Element) -> etree._Element:
    return element(f"Settings:{name}", None, element("Settings:Status", str(code)), *extra)


# -- Oof ---------------------------------------------------------------------------


def _load_oof(ctx: CommandContext) -> dict:
    raw = ctx.backend.get_state(outofoffice.FOLDER, outofoffice.NAME)
    try:
        data = json.loads(raw) if raw else {}
    except ValueError:
        data = {}
    return data if isinstance(data, dict) else {}


def _oof_get(ctx: CommandContext, request: etree._Element) -> etree._Element:
    data = _load_oof(ctx)
    on = bool(data.get("state"))
    oof_state = data.get("oof_state", 1 if on else 0)
    wants_html = (request.findtext(f"{ST}BodyType") or "Text").strip().upper() == "HTML"
    get = element("Settings:Get", None, element("Settings:OofState", str(oof_state)))
    if oof_state == 2 and data.get("start") and data.get("end"):
        get.append(element("Settings:StartTime", eas_datetime(parse_datetime(data["start"]))))
        get.append(element("Settings:EndTime", eas_datetime(parse_datetime(data["end"]))))
    message = str(data.get("message", ""))
    for audience in AUDIENCES:
        key = _KEYS[audience]
        # Exchange 2003 had one reply for every sender: external replies follow it until set apart.
        text = str(data.get(f"{key}_message", message)) if key != "internal" else message
        enabled = bool(data.get(f"{key}_enabled", oof_state != 0)) if key != "internal" else oof_state != 0
        entry = element("Settings:OofMessage", None, element(f"Settings:{audience}"),
                        element("Settings:Enabled", "1" if enabled else "0"))
        if text:
            body = f"<html><body>{html.escape(text)}</body></html>" if wants_html else text
            entry.append(element("Settings:ReplyMessage", body))
            entry.append(element("Settings:BodyType", "HTML" if wants_html else "Text"))
        get.append(entry)
    return _status("Oof", SUCCESS, get)


def _oof_set(ctx: CommandContext, request: etree._Element) -> int:
    state_text = (request.findtext(f"{ST}OofState") or "").strip()
    if state_text not in ("0", "1", "2"):
        return INVALID_ARGUMENTS if state_text else PROTOCOL_ERROR
    oof_state = int(state_text)
    data = _load_oof(ctx)
    data["oof_state"] = oof_state
    now = datetime.now(timezone.utc)
    if oof_state == 2:
        start_text, end_text = request.findtext(f"{ST}StartTime"), request.findtext(f"{ST}EndTime")
        if not start_text or not end_text:
            return PROTOCOL_ERROR
        try:
            start, end = parse_datetime(start_text), parse_datetime(end_text)
        except ValueError:
            return INVALID_ARGUMENTS
        if end <= start:
            return CONFLICTING_ARGUMENTS
        data["start"], data["end"] = start.isoformat(), end.isoformat()
        data["state"] = start <= now < end
    else:
        data.pop("start", None)
        data.pop("end", None)
        data["state"] = oof_state == 1
    for entry in request.findall(f"{ST}OofMessage"):
        audience = next((a for a in AUDIENCES if entry.find(f"{ST}{a}") is not None), None)
        if audience is None:
            return PROTOCOL_ERROR
        key = _KEYS[audience]
        reply = entry.findtext(f"{ST}ReplyMessage")
        if reply is not None:
            is_html = (entry.findtext(f"{ST}BodyType") or "Text").strip().upper() == "HTML"
            text = html_to_text(reply) if is_html else reply
            data["message" if key == "internal" else f"{key}_message"] = text
        enabled = entry.findtext(f"{ST}Enabled")
        if enabled is not None and key != "internal":
            data[f"{key}_enabled"] = enabled.strip() == "1"
    data.setdefault("message", "")
    ctx.backend.put_state(outofoffice.FOLDER, outofoffice.NAME, json.dumps(data, ensure_ascii=False).encode())
    return SUCCESS


def _oof(ctx: CommandContext, request: etree._Element) -> etree._Element:
    get, set_ = request.find(f"{ST}Get"), request.find(f"{ST}Set")
    if get is not None:
        return _oof_get(ctx, get)
    if set_ is not None:
        return _status("Oof", _oof_set(ctx, set_))
    return _status("Oof", PROTOCOL_ERROR)


# -- the device and the user -----------------------------------------------------------

_DEVICE_FIELDS = {
    "Model": "device_model", "IMEI": "device_imei", "FriendlyName": "device_friendly_name", "OS": "device_os",
    "OSLanguage": "device_os_language", "PhoneNumber": "device_phone_number",
    "MobileOperator": "device_mobile_operator", "UserAgent": "device_user_agent",
}


def _device_information(ctx: CommandContext, request: etree._Element) -> etree._Element:
    values = request.find(f"{ST}Set")
    if values is None:
        return _status("DeviceInformation", PROTOCOL_ERROR)
    partnership = ctx.partnership
    for tag, attribute in _DEVICE_FIELDS.items():
        text = values.findtext(f"{ST}{tag}")
        if text is not None:
            setattr(partnership, attribute, text.strip())
    sms = values.findtext(f"{ST}EnableOutboundSMS")
    if sms is not None:
        partnership.device_outbound_sms = sms.strip() == "1"
    ctx.partnership_dirty = True
    return _status("DeviceInformation", SUCCESS)


def _device_password(ctx: CommandContext, request: etree._Element) -> etree._Element:
    password = request.findtext(f"{ST}Set/{ST}Password")
    if password is None:
        return _status("DevicePassword", PROTOCOL_ERROR)
    ctx.partnership.recovery_password = password
    ctx.partnership_dirty = True
    return _status("DevicePassword", SUCCESS)


def _user_information(ctx: CommandContext, request: etree._Element) -> etree._Element:
    """12.0-14.0: Get/EmailAddresses/SMTPAddress; 14.1+: Get/Accounts/Account (MS-ASCMD 2.2.3.2, 2.2.3.5)."""
    if request.find(f"{ST}Get") is None:
        return _status("UserInformation", PROTOCOL_ERROR)
    user = ctx.user
    addresses = element("Settings:EmailAddresses", None,
                        *(element("Settings:SMTPAddress", a) for a in user.smtp_addresses()))
    if ctx.version >= V14_1:
        addresses.append(element("Settings:PrimarySmtpAddress", user.primary_smtp))
        account = element("Settings:Account", None, element("Settings:UserDisplayName", user.display_name),
                          addresses)
        get = element("Settings:Get", None, element("Settings:Accounts", None, account))
    else:
        get = element("Settings:Get", None, addresses)
    return _status("UserInformation", SUCCESS, get)


def _rights_management(ctx: CommandContext, request: etree._Element) -> etree._Element:
    """14.1+: the templates the server offers; the lab has no rights management, so none."""
    if ctx.version < V14_1 or request.find(f"{ST}Get") is None:
        return _status("RightsManagementInformation", PROTOCOL_ERROR)
    return _status("RightsManagementInformation", SUCCESS,
                   element("Settings:Get", None, element("RightsManagement:RightsManagementTemplates")))


_HANDLERS = {
    "Oof": _oof, "DevicePassword": _device_password, "DeviceInformation": _device_information,
    "UserInformation": _user_information, "RightsManagementInformation": _rights_management,
}


def run(ctx: CommandContext, request: etree._Element | None) -> etree._Element:
    if ctx.version < V12_0:
        raise not_in_version(ctx.version, NAME)
    properties = list(request) if request is not None else []
    handlers = [_HANDLERS.get(etree.QName(p).localname) for p in properties]
    if not properties or None in handlers:
        ctx.usage.status = PROTOCOL_ERROR
        return element(ROOT, None, element("Settings:Status", str(PROTOCOL_ERROR)))
    out = element(ROOT, None, element("Settings:Status", str(SUCCESS)))
    for handler, prop in zip(handlers, properties):
        out.append(handler(ctx, prop))
    ctx.usage.status = SUCCESS
    return out
