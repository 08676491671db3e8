"""Settings: DeviceInformation, UserInformation, Oof (shared with OWA), DevicePassword, RightsManagementInformation."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from plugins.activesync.items.values import eas_datetime
from plugins.owa.pages import outofoffice

from .conftest import run_cli
from .easclient import el
from .test_commands_mail import _ready

ST = "{Settings}"


def _settings(*parts):
    return el("Settings:Settings", None, *parts)


def _oof_set(state: str, *extra):
    return el("Settings:Oof", None, el("Settings:Set", None, el("Settings:OofState", state), *extra))


def _oof_get(body_type: str = "Text"):
    return el("Settings:Oof", None, el("Settings:Get", None, el("Settings:BodyType", body_type)))


def _message(audience: str, text: str, enabled: str = "1"):
    return el("Settings:OofMessage", None, el(f"Settings:{audience}"), el("Settings:Enabled", enabled),
              el("Settings:ReplyMessage", text), el("Settings:BodyType", "Text"))


def test_device_information_is_recorded_on_the_partnership(eas_lab, capsys):
    lab = eas_lab("Exchange 2016")
    device, _ = _ready(lab, "16.1", device_id="SETTINGSDEV1")
    info = el("Settings:DeviceInformation", None, el("Settings:Set", None,
              el("Settings:Model", "Lumia 950"), el("Settings:IMEI", "356938035643809"),
              el("Settings:FriendlyName", "Alice's phone"), el("Settings:OS", "Windows 10 Mobile"),
              el("Settings:OSLanguage", "German"), el("Settings:PhoneNumber", "+49 30 1234"),
              el("Settings:UserAgent", "MSFT-WP/10.0"), el("Settings:EnableOutboundSMS", "0"),
              el("Settings:MobileOperator", "Contoso Mobile")))
    answer = device.post("Settings", _settings(info))
    assert answer.text("s:Status") == "1" and answer.text("s:DeviceInformation/s:Status") == "1"
    assert run_cli(lab, "activesync", "device", "show", "SETTINGSDEV1") == 0
    shown = capsys.readouterr().out
    for value in ("Lumia 950", "356938035643809", "Alice's phone", "Windows 10 Mobile", "MSFT-WP/10.0",
                  "Contoso Mobile"):
        assert value in shown


def test_user_information_lists_the_smtp_addresses_flat_before_14_1_and_as_an_account_after(eas_lab):
    lab = eas_lab("Exchange 2016")
    lab.service.directory.add_user("CONTOSO\\carol", "P@ssw0rd", display_name="Carol Diaz",
                                   smtp=["carol@contoso.com", "c.diaz@contoso.com"])
    get = el("Settings:UserInformation", None, el("Settings:Get"))
    device, _ = _ready(lab, "16.1", user="CONTOSO\\carol")
    answer = device.post("Settings", _settings(get))
    account = answer.find("s:UserInformation/s:Get/s:Accounts/s:Account")
    assert account.findtext(f"{ST}UserDisplayName") == "Carol Diaz"
    assert [a.text for a in account.findall(f"{ST}EmailAddresses/{ST}SMTPAddress")] == [
        "carol@contoso.com", "c.diaz@contoso.com"]
    assert account.findtext(f"{ST}EmailAddresses/{ST}PrimarySmtpAddress") == "carol@contoso.com"
    older, _ = _ready(lab, "14.0", user="CONTOSO\\carol", device_id="OLDER140")
    flat = older.post("Settings", _settings(get))
    assert [a.text for a in flat.findall("s:UserInformation/s:Get/s:EmailAddresses/s:SMTPAddress")] == [
        "carol@contoso.com", "c.diaz@contoso.com"]
    assert flat.find("s:UserInformation/s:Get/s:Accounts") is None


def test_oof_set_on_the_phone_is_what_owa_reads_and_the_other_way_round(eas_lab):
    lab = eas_lab("Exchange 2010 SP1")
    device, _ = _ready(lab, "14.1")
    answer = device.post("Settings", _settings(_oof_set("1", _message("AppliesToInternal", "Back on Monday."))))
    assert answer.text("s:Oof/s:Status") == "1"
    setting = outofoffice.read(lab.store, lab.mailbox)
    assert setting.state and setting.message == "Back on Monday."
    outofoffice.write(lab.store, lab.mailbox, outofoffice.OutOfOffice(False, "Changed in OWA"))
    got = device.post("Settings", _settings(_oof_get())).find("s:Oof/s:Get")
    assert got.findtext(f"{ST}OofState") == "0"
    internal = next(m for m in got.findall(f"{ST}OofMessage") if m.find(f"{ST}AppliesToInternal") is not None)
    assert internal.findtext(f"{ST}ReplyMessage") == "Changed in OWA" and internal.findtext(f"{ST}Enabled") == "0"
    assert len(got.findall(f"{ST}OofMessage")) == 3


def test_oof_time_based_keeps_its_window_and_html_is_offered(eas_lab):
    lab = eas_lab("Exchange 2016")
    device, _ = _ready(lab, "16.1")
    start = datetime.now(timezone.utc) - timedelta(hours=1)
    end = start + timedelta(days=3)
    answer = device.post("Settings", _settings(_oof_set(
        "2", el("Settings:StartTime", eas_datetime(start)), el("Settings:EndTime", eas_datetime(end)),
        _message("AppliesToInternal", "Travelling <until> Friday"),
        _message("AppliesToExternalUnknown", "", enabled="0"))))
    assert answer.text("s:Oof/s:Status") == "1"
    assert outofoffice.read(lab.store, lab.mailbox).state  # inside the window: OWA shows it on
    got = device.post("Settings", _settings(_oof_get("HTML"))).find("s:Oof/s:Get")
    assert got.findtext(f"{ST}OofState") == "2"
    assert got.findtext(f"{ST}StartTime") == eas_datetime(start) and got.findtext(f"{ST}EndTime") == eas_datetime(end)
    messages = {next(c.tag.split("}")[1] for c in m if c.tag.split("}")[1].startswith("AppliesTo")): m
                for m in got.findall(f"{ST}OofMessage")}
    assert "Travelling &lt;until&gt; Friday" in messages["AppliesToInternal"].findtext(f"{ST}ReplyMessage")
    assert messages["AppliesToInternal"].findtext(f"{ST}BodyType") == "HTML"
    assert messages["AppliesToExternalUnknown"].findtext(f"{ST}Enabled") == "0"


def test_oof_statuses(eas_lab):
    lab = eas_lab("Exchange 2016")
    device, _ = _ready(lab, "16.1")
    now = datetime.now(timezone.utc)
    bad_state = device.post("Settings", _settings(_oof_set("7")))
    assert bad_state.text("s:Status") == "1" and bad_state.text("s:Oof/s:Status") == "5"
    backwards = device.post("Settings", _settings(_oof_set(
        "2", el("Settings:StartTime", eas_datetime(now)), el("Settings:EndTime", eas_datetime(now - timedelta(days=1))))))
    assert backwards.text("s:Oof/s:Status") == "6"
    no_window = device.post("Settings", _settings(_oof_set("2")))
    assert no_window.text("s:Oof/s:Status") == "2"
    assert not outofoffice.read(lab.store, lab.mailbox).state


def test_device_password_and_rights_management_information(eas_lab):
    lab = eas_lab("Exchange 2016")
    device, _ = _ready(lab, "16.1")
    answer = device.post("Settings", _settings(
        el("Settings:DevicePassword", None, el("Settings:Set", None, el("Settings:Password", "1234"))),
        el("Settings:RightsManagementInformation", None, el("Settings:Get"))))
    assert answer.text("s:DevicePassword/s:Status") == "1"
    assert answer.text("s:RightsManagementInformation/s:Status") == "1"
    templates = answer.find("s:RightsManagementInformation/s:Get/{RightsManagement}RightsManagementTemplates")
    assert templates is not None and len(templates) == 0
    assert [c.tag.split("}")[1] for c in answer.root] == ["Status", "DevicePassword", "RightsManagementInformation"]


def test_settings_is_not_part_of_2_5_and_an_unknown_property_is_status_2(eas_lab):
    lab = eas_lab("Exchange 2007 SP1")
    device, _ = _ready(lab, "2.5")
    assert device.post("Settings", _settings(el("Settings:UserInformation", None, el("Settings:Get")))).status == 501
    device, _ = _ready(lab, "12.1", device_id="SETTINGS121")
    empty = device.post("Settings", _settings())
    assert empty.text("s:Status") == "2"
