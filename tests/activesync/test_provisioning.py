"""MS-ASPROV as a device meets it: 449 or 142-144, the two policy formats, remote wipe."""
from __future__ import annotations

from lxml import etree

from .conftest import policy_value, run_cli as _cli
from .easclient import el


def test_exchange_2003_default_policy_lets_devices_sync_without_provisioning(eas_lab):
    lab = eas_lab("Exchange 2003 SP2")
    answer = lab.client(version="2.5", policy_key=None).folder_sync()
    assert answer.status == 200 and answer.text("fh:Status") == "1"


def test_enforce_password_makes_2003_answer_449_until_the_device_provisions(eas_lab):
    lab = eas_lab("Exchange 2003 SP2", policy_value("DevicePasswordEnabled", 1),
                  policy_value("MaxInactivityTimeDeviceLock", 5), policy_value("MaxDevicePasswordFailedAttempts", 8))
    device = lab.client(version="2.5")
    assert device.folder_sync().status == 449
    provisioned = device.provision()
    data = provisioned.first.text("p:Policies/p:Policy/p:Data")
    doc = etree.fromstring(data)
    parms = {p.get("name"): p.get("value") for p in doc.iter("parm")}
    assert parms["4131"] == "0" and parms["MinimumPasswordLength"] == "4"
    assert parms["AEFrequencyValue"] == "5" and parms["DeviceWipeThreshold"] == "8"
    assert provisioned.text("p:Policies/p:Policy/p:Status") == "1"
    assert device.folder_sync().status == 200
    device.policy_key += 1
    assert device.folder_sync().status == 449


def test_2016_sends_142_then_accepts_the_final_key_and_144_for_a_wrong_one(eas_lab):
    lab = eas_lab("Exchange 2016")
    device = lab.client(version="16.1")
    assert device.folder_sync().text("fh:Status") == "142"
    provisioned = device.provision()
    doc = provisioned.first.find("p:Policies/p:Policy/p:Data/p:EASProvisionDoc")
    assert doc.findtext("{Provision}DevicePasswordEnabled") == "0"
    assert provisioned.first.text("p:Policies/p:Policy/p:PolicyKey") != str(device.policy_key)
    assert device.folder_sync().text("fh:Status") == "1"
    device.policy_key = 1234
    assert device.folder_sync().text("fh:Status") == "144"


def test_acknowledging_the_wrong_temporary_key_is_policy_status_5(eas_lab):
    lab = eas_lab("Exchange 2010 SP1")
    device = lab.client(version="14.1")
    answer = device.post("Provision", el("Provision:Provision", None, el("Provision:Policies", None, el(
        "Provision:Policy", None, el("Provision:PolicyType", "MS-EAS-Provisioning-WBXML"),
        el("Provision:PolicyKey", "99"), el("Provision:Status", "1")))))
    assert answer.text("p:Policies/p:Policy/p:Status") == "5"


def test_a_changed_policy_asks_for_a_refresh_with_143(eas_lab, tmp_path):
    lab = eas_lab("Exchange 2010 SP1")
    device = lab.client(version="14.1")
    device.provision()
    assert device.folder_sync().text("fh:Status") == "1"
    text = lab.service.registry_path.read_text(encoding="utf-8")
    from host.regfile import RegType, set_value
    from plugins.activesync.policy import DEVICE_SECURITY

    lab.service.registry_path.write_text(set_value(text, DEVICE_SECURITY, "DevicePasswordEnabled",
                                                   RegType.REG_DWORD, 1), encoding="utf-8")
    assert lab.service.reload()
    assert device.folder_sync().text("fh:Status") == "143"
    device.provision()
    assert device.folder_sync().text("fh:Status") == "1"


def test_devices_that_never_send_a_key_follow_allow_non_provisionable(eas_lab):
    allowed = eas_lab("Exchange 2010 SP1")
    assert allowed.client(version="14.1", policy_key=None).folder_sync().text("fh:Status") == "1"
    strict = eas_lab("Exchange 2010 SP1", policy_value("AllowNonProvisionableDevices", 0))
    assert strict.client(version="14.1", policy_key=None).folder_sync().text("fh:Status") == "141"
    legacy = eas_lab("Exchange 2003 SP2", policy_value("DevicePasswordEnabled", 1),
                     policy_value("AllowNonProvisionableDevices", 0))
    assert legacy.client(version="2.1", policy_key=None).folder_sync().status == 403


def test_remote_wipe_is_delivered_on_the_next_request_and_acknowledged(eas_lab, capsys):
    lab = eas_lab("Exchange 2016")
    device = lab.client(version="16.1", device_id="WIPEME01")
    device.provision()
    assert device.folder_sync().text("fh:Status") == "1"
    assert _cli(lab, "activesync", "device", "wipe", "WIPEME01") == 0
    assert device.folder_sync().text("fh:Status") == "140"
    request = el("Provision:Provision", None, el("Provision:Policies", None, el(
        "Provision:Policy", None, el("Provision:PolicyType", "MS-EAS-Provisioning-WBXML"))))
    answer = device.post("Provision", request)
    assert answer.find("p:RemoteWipe") is not None and answer.find("p:Policies") is None
    ack = device.post("Provision", el("Provision:Provision", None, el("Provision:RemoteWipe", None,
                                                                      el("Provision:Status", "1"))))
    assert ack.text("p:Status") == "1"
    capsys.readouterr()
    assert _cli(lab, "activesync", "device", "show", "WIPEME01") == 0
    shown = capsys.readouterr().out
    assert "WipeSuccessful" in shown and "wipe_acknowledged" in shown


def test_before_14_0_a_pending_wipe_is_a_449(eas_lab):
    lab = eas_lab("Exchange 2007 SP1")
    device = lab.client(version="12.1", device_id="WIPEME02")
    assert device.folder_sync().status == 200
    assert _cli(lab, "activesync", "device", "wipe", "WIPEME02") == 0
    assert device.folder_sync().status == 449
