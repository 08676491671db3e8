"""The EAS WBXML code pages: every tag, its token and the protocol versions
that carry it, transcribed from MS-ASWBXML 2.1.2.1 (revision 24.0).

Each code page is one XML namespace. The namespace URIs are the code page
names exactly as MS-ASWBXML 2.1.2.1 lists them and as the MS-ASCMD schemas
use them (``targetNamespace="AirSync"``, ``xmlns:airsyncbase="AirSyncBase"``);
note ``Gal`` (the section heading says "GAL", the namespace table and the
schemas say "Gal").

The ``versions`` of a tag are recorded as the spec's "Protocol versions"
column says; the codec does not enforce them (a command module can).
``byte_array`` marks the few elements the specs type as byte arrays: the
encoder insists they carry bytes, so they go out as OPAQUE.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Every MS-ASProtocolVersion this server speaks, oldest first (MS-ASHTTP).
PROTOCOL_VERSIONS: tuple[str, ...] = ("2.5", "12.0", "12.1", "14.0", "14.1", "16.0", "16.1")


def _since(version: str) -> tuple[str, ...]:
    return PROTOCOL_VERSIONS[PROTOCOL_VERSIONS.index(version):]


def _until(version: str) -> tuple[str, ...]:
    return PROTOCOL_VERSIONS[: PROTOCOL_VERSIONS.index(version) + 1]


ALL = PROTOCOL_VERSIONS
V2_5 = _until("2.5")
UNTIL_12_1 = _until("12.1")
UNTIL_14_1 = _until("14.1")
SINCE_12_0 = _since("12.0")
SINCE_12_1 = _since("12.1")
SINCE_14_0 = _since("14.0")
SINCE_14_1 = _since("14.1")
SINCE_16_0 = _since("16.0")
V16_1 = _since("16.1")


@dataclass(frozen=True)
class Tag:
    """One tag of a code page."""

    page: int
    name: str
    token: int
    namespace: str
    versions: tuple[str, ...]
    byte_array: bool = False

    @property
    def clark(self) -> str:
        """The lxml (Clark notation) name, e.g. ``{AirSync}Sync``."""
        return f"{{{self.namespace}}}{self.name}"


@dataclass(frozen=True)
class CodePage:
    """One WBXML code page: number, XML namespace, usual prefix, tags."""

    number: int
    namespace: str
    prefix: str
    tags: tuple[Tag, ...]


# Elements whose value the specs type as a byte array; MS-ASDTYPE 2.7.1:
# they MUST be encoded and transmitted as WBXML opaque data.
_BYTE_ARRAYS = frozenset({
    ("ComposeMail", "Mime"),  # MS-ASCMD 2.2.3.109
    ("Email2", "ConversationId"),  # MS-ASCON 2.2.2.3
    ("Email2", "ConversationIndex"),  # MS-ASCON 2.2.2.4
    ("ItemOperations", "ConversationId"),  # MS-ASCON 2.2.2.3.1
})


def _page(number: int, namespace: str, prefix: str,
          rows: tuple[tuple[str, int, tuple[str, ...]], ...]) -> CodePage:
    tags = tuple(Tag(number, name, token, namespace, versions, (namespace, name) in _BYTE_ARRAYS)
                 for name, token, versions in rows)
    return CodePage(number, namespace, prefix, tags)


# MS-ASWBXML 2.1.2.1.1
_AIRSYNC = (
    ("Sync", 0x05, ALL), ("Responses", 0x06, ALL), ("Add", 0x07, ALL),
    ("Change", 0x08, ALL), ("Delete", 0x09, ALL), ("Fetch", 0x0A, ALL),
    ("SyncKey", 0x0B, ALL), ("ClientId", 0x0C, ALL), ("ServerId", 0x0D, ALL),
    ("Status", 0x0E, ALL), ("Collection", 0x0F, ALL), ("Class", 0x10, ALL),
    ("CollectionId", 0x12, ALL), ("GetChanges", 0x13, ALL),
    ("MoreAvailable", 0x14, ALL), ("WindowSize", 0x15, ALL),
    ("Commands", 0x16, ALL), ("Options", 0x17, ALL), ("FilterType", 0x18, ALL),
    ("Truncation", 0x19, V2_5), ("Conflict", 0x1B, ALL),
    ("Collections", 0x1C, ALL), ("ApplicationData", 0x1D, ALL),
    ("DeletesAsMoves", 0x1E, ALL), ("Supported", 0x20, ALL),
    ("SoftDelete", 0x21, ALL), ("MIMESupport", 0x22, ALL),
    ("MIMETruncation", 0x23, ALL), ("Wait", 0x24, SINCE_12_1),
    ("Limit", 0x25, SINCE_12_1), ("Partial", 0x26, SINCE_12_1),
    ("ConversationMode", 0x27, SINCE_14_0), ("MaxItems", 0x28, SINCE_14_0),
    ("HeartbeatInterval", 0x29, SINCE_14_0),
)

# MS-ASWBXML 2.1.2.1.2; Body/BodySize/BodyTruncated gave way to
# AirSyncBase:Body from 12.0 on (note 1 of that section).
_CONTACTS = (
    ("Anniversary", 0x05, ALL), ("AssistantName", 0x06, ALL),
    ("AssistantPhoneNumber", 0x07, ALL), ("Birthday", 0x08, ALL),
    ("Body", 0x09, V2_5), ("BodySize", 0x0A, V2_5),
    ("BodyTruncated", 0x0B, V2_5), ("Business2PhoneNumber", 0x0C, ALL),
    ("BusinessAddressCity", 0x0D, ALL), ("BusinessAddressCountry", 0x0E, ALL),
    ("BusinessAddressPostalCode", 0x0F, ALL), ("BusinessAddressState", 0x10, ALL),
    ("BusinessAddressStreet", 0x11, ALL), ("BusinessFaxNumber", 0x12, ALL),
    ("BusinessPhoneNumber", 0x13, ALL), ("CarPhoneNumber", 0x14, ALL),
    ("Categories", 0x15, ALL), ("Category", 0x16, ALL), ("Children", 0x17, ALL),
    ("Child", 0x18, ALL), ("CompanyName", 0x19, ALL), ("Department", 0x1A, ALL),
    ("Email1Address", 0x1B, ALL), ("Email2Address", 0x1C, ALL),
    ("Email3Address", 0x1D, ALL), ("FileAs", 0x1E, ALL), ("FirstName", 0x1F, ALL),
    ("Home2PhoneNumber", 0x20, ALL), ("HomeAddressCity", 0x21, ALL),
    ("HomeAddressCountry", 0x22, ALL), ("HomeAddressPostalCode", 0x23, ALL),
    ("HomeAddressState", 0x24, ALL), ("HomeAddressStreet", 0x25, ALL),
    ("HomeFaxNumber", 0x26, ALL), ("HomePhoneNumber", 0x27, ALL),
    ("JobTitle", 0x28, ALL), ("LastName", 0x29, ALL), ("MiddleName", 0x2A, ALL),
    ("MobilePhoneNumber", 0x2B, ALL), ("OfficeLocation", 0x2C, ALL),
    ("OtherAddressCity", 0x2D, ALL), ("OtherAddressCountry", 0x2E, ALL),
    ("OtherAddressPostalCode", 0x2F, ALL), ("OtherAddressState", 0x30, ALL),
    ("OtherAddressStreet", 0x31, ALL), ("PagerNumber", 0x32, ALL),
    ("RadioPhoneNumber", 0x33, ALL), ("Spouse", 0x34, ALL), ("Suffix", 0x35, ALL),
    ("Title", 0x36, ALL), ("WebPage", 0x37, ALL), ("YomiCompanyName", 0x38, ALL),
    ("YomiFirstName", 0x39, ALL), ("YomiLastName", 0x3A, ALL),
    ("Picture", 0x3C, ALL), ("Alias", 0x3D, SINCE_14_0),
    ("WeightedRank", 0x3E, SINCE_14_0),
)

# MS-ASWBXML 2.1.2.1.3; the 2.5-only tags gave way to AirSyncBase
# (Attachments, Body), Location to AirSyncBase:Location and GlobalObjId to
# Calendar:UID in 16.x (notes 1-4 of that section).
_EMAIL = (
    ("Attachment", 0x05, V2_5), ("Attachments", 0x06, V2_5),
    ("AttName", 0x07, V2_5), ("AttSize", 0x08, V2_5), ("Att0id", 0x09, V2_5),
    ("AttMethod", 0x0A, V2_5), ("Body", 0x0C, V2_5), ("BodySize", 0x0D, V2_5),
    ("BodyTruncated", 0x0E, V2_5), ("DateReceived", 0x0F, ALL),
    ("DisplayName", 0x10, V2_5), ("DisplayTo", 0x11, ALL),
    ("Importance", 0x12, ALL), ("MessageClass", 0x13, ALL),
    ("Subject", 0x14, ALL), ("Read", 0x15, ALL), ("To", 0x16, ALL),
    ("Cc", 0x17, ALL), ("From", 0x18, ALL), ("ReplyTo", 0x19, ALL),
    ("AllDayEvent", 0x1A, ALL), ("Categories", 0x1B, SINCE_14_0),
    ("Category", 0x1C, SINCE_14_0), ("DtStamp", 0x1D, ALL),
    ("EndTime", 0x1E, ALL), ("InstanceType", 0x1F, ALL),
    ("BusyStatus", 0x20, ALL), ("Location", 0x21, UNTIL_14_1),
    ("MeetingRequest", 0x22, ALL), ("Organizer", 0x23, ALL),
    ("RecurrenceId", 0x24, ALL), ("Reminder", 0x25, ALL),
    ("ResponseRequested", 0x26, ALL), ("Recurrences", 0x27, ALL),
    ("Recurrence", 0x28, ALL), ("Type", 0x29, ALL), ("Until", 0x2A, ALL),
    ("Occurrences", 0x2B, ALL), ("Interval", 0x2C, ALL),
    ("DayOfWeek", 0x2D, ALL), ("DayOfMonth", 0x2E, ALL),
    ("WeekOfMonth", 0x2F, ALL), ("MonthOfYear", 0x30, ALL),
    ("StartTime", 0x31, ALL), ("Sensitivity", 0x32, ALL),
    ("TimeZone", 0x33, ALL), ("GlobalObjId", 0x34, UNTIL_14_1),
    ("ThreadTopic", 0x35, ALL), ("MIMEData", 0x36, V2_5),
    ("MIMETruncated", 0x37, V2_5), ("MIMESize", 0x38, V2_5),
    ("InternetCPID", 0x39, ALL), ("Flag", 0x3A, SINCE_12_0),
    ("Status", 0x3B, SINCE_12_0), ("ContentClass", 0x3C, SINCE_12_0),
    ("FlagType", 0x3D, SINCE_12_0), ("CompleteTime", 0x3E, SINCE_12_0),
    ("DisallowNewTimeProposal", 0x3F, SINCE_14_0),
)

# MS-ASWBXML 2.1.2.1.4: code page 3 is no longer in use; it has no tags.
_AIRNOTIFY: tuple[tuple[str, int, tuple[str, ...]], ...] = ()

# MS-ASWBXML 2.1.2.1.5 (the spec spells this page's tag "Timezone").
_CALENDAR = (
    ("Timezone", 0x05, ALL), ("AllDayEvent", 0x06, ALL), ("Attendees", 0x07, ALL),
    ("Attendee", 0x08, ALL), ("Email", 0x09, ALL), ("Name", 0x0A, ALL),
    ("Body", 0x0B, V2_5), ("BodyTruncated", 0x0C, V2_5),
    ("BusyStatus", 0x0D, ALL), ("Categories", 0x0E, ALL), ("Category", 0x0F, ALL),
    ("DtStamp", 0x11, ALL), ("EndTime", 0x12, ALL), ("Exception", 0x13, ALL),
    ("Exceptions", 0x14, ALL), ("Deleted", 0x15, ALL),
    ("ExceptionStartTime", 0x16, UNTIL_14_1), ("Location", 0x17, UNTIL_14_1),
    ("MeetingStatus", 0x18, ALL), ("OrganizerEmail", 0x19, ALL),
    ("OrganizerName", 0x1A, ALL), ("Recurrence", 0x1B, ALL), ("Type", 0x1C, ALL),
    ("Until", 0x1D, ALL), ("Occurrences", 0x1E, ALL), ("Interval", 0x1F, ALL),
    ("DayOfWeek", 0x20, ALL), ("DayOfMonth", 0x21, ALL),
    ("WeekOfMonth", 0x22, ALL), ("MonthOfYear", 0x23, ALL),
    ("Reminder", 0x24, ALL), ("Sensitivity", 0x25, ALL), ("Subject", 0x26, ALL),
    ("StartTime", 0x27, ALL), ("UID", 0x28, ALL),
    ("AttendeeStatus", 0x29, SINCE_12_0), ("AttendeeType", 0x2A, SINCE_12_0),
    ("DisallowNewTimeProposal", 0x33, SINCE_14_0),
    ("ResponseRequested", 0x34, SINCE_14_0),
    ("AppointmentReplyTime", 0x35, SINCE_14_0),
    ("ResponseType", 0x36, SINCE_14_0), ("CalendarType", 0x37, SINCE_14_0),
    ("IsLeapMonth", 0x38, SINCE_14_0), ("FirstDayOfWeek", 0x39, SINCE_14_1),
    ("OnlineMeetingConfLink", 0x3A, SINCE_14_1),
    ("OnlineMeetingExternalLink", 0x3B, SINCE_14_1),
    ("ClientUid", 0x3C, SINCE_16_0),
)

# MS-ASWBXML 2.1.2.1.6
_MOVE = (
    ("MoveItems", 0x05, ALL), ("Move", 0x06, ALL), ("SrcMsgId", 0x07, ALL),
    ("SrcFldId", 0x08, ALL), ("DstFldId", 0x09, ALL), ("Response", 0x0A, ALL),
    ("Status", 0x0B, ALL), ("DstMsgId", 0x0C, ALL),
)

# MS-ASWBXML 2.1.2.1.7; from 14.0 on AirSync:Class replaces this Class.
_GETITEMESTIMATE = (
    ("GetItemEstimate", 0x05, ALL), ("Collections", 0x07, ALL),
    ("Collection", 0x08, ALL), ("Class", 0x09, UNTIL_12_1),
    ("CollectionId", 0x0A, ALL), ("Estimate", 0x0C, ALL),
    ("Response", 0x0D, ALL), ("Status", 0x0E, ALL),
)

# MS-ASWBXML 2.1.2.1.8
_FOLDERHIERARCHY = (
    ("Folders", 0x05, UNTIL_12_1), ("Folder", 0x06, UNTIL_12_1),
    ("DisplayName", 0x07, ALL), ("ServerId", 0x08, ALL), ("ParentId", 0x09, ALL),
    ("Type", 0x0A, ALL), ("Status", 0x0C, ALL), ("Changes", 0x0E, ALL),
    ("Add", 0x0F, ALL), ("Delete", 0x10, ALL), ("Update", 0x11, ALL),
    ("SyncKey", 0x12, ALL), ("FolderCreate", 0x13, ALL),
    ("FolderDelete", 0x14, ALL), ("FolderUpdate", 0x15, ALL),
    ("FolderSync", 0x16, ALL), ("Count", 0x17, ALL),
)

# MS-ASWBXML 2.1.2.1.9
_MEETINGRESPONSE = (
    ("CalendarId", 0x05, ALL), ("CollectionId", 0x06, ALL),
    ("MeetingResponse", 0x07, ALL), ("RequestId", 0x08, ALL),
    ("Request", 0x09, ALL), ("Result", 0x0A, ALL), ("Status", 0x0B, ALL),
    ("UserResponse", 0x0C, ALL), ("InstanceId", 0x0E, SINCE_14_1),
    ("ProposedStartTime", 0x10, V16_1), ("ProposedEndTime", 0x11, V16_1),
    ("SendResponse", 0x12, SINCE_16_0),
)

# MS-ASWBXML 2.1.2.1.10
_TASKS = (
    ("Body", 0x05, V2_5), ("BodySize", 0x06, V2_5), ("BodyTruncated", 0x07, V2_5),
    ("Categories", 0x08, ALL), ("Category", 0x09, ALL), ("Complete", 0x0A, ALL),
    ("DateCompleted", 0x0B, ALL), ("DueDate", 0x0C, ALL),
    ("UtcDueDate", 0x0D, ALL), ("Importance", 0x0E, ALL),
    ("Recurrence", 0x0F, ALL), ("Type", 0x10, ALL), ("Start", 0x11, ALL),
    ("Until", 0x12, ALL), ("Occurrences", 0x13, ALL), ("Interval", 0x14, ALL),
    ("DayOfMonth", 0x15, ALL), ("DayOfWeek", 0x16, ALL),
    ("WeekOfMonth", 0x17, ALL), ("MonthOfYear", 0x18, ALL),
    ("Regenerate", 0x19, ALL), ("DeadOccur", 0x1A, ALL),
    ("ReminderSet", 0x1B, ALL), ("ReminderTime", 0x1C, ALL),
    ("Sensitivity", 0x1D, ALL), ("StartDate", 0x1E, ALL),
    ("UtcStartDate", 0x1F, ALL), ("Subject", 0x20, ALL),
    ("OrdinalDate", 0x22, SINCE_12_0), ("SubOrdinalDate", 0x23, SINCE_12_0),
    ("CalendarType", 0x24, SINCE_14_0), ("IsLeapMonth", 0x25, SINCE_14_0),
    ("FirstDayOfWeek", 0x26, SINCE_14_1),
)

# MS-ASWBXML 2.1.2.1.11
_RESOLVERECIPIENTS = (
    ("ResolveRecipients", 0x05, ALL), ("Response", 0x06, ALL),
    ("Status", 0x07, ALL), ("Type", 0x08, ALL), ("Recipient", 0x09, ALL),
    ("DisplayName", 0x0A, ALL), ("EmailAddress", 0x0B, ALL),
    ("Certificates", 0x0C, ALL), ("Certificate", 0x0D, ALL),
    ("MiniCertificate", 0x0E, ALL), ("Options", 0x0F, ALL), ("To", 0x10, ALL),
    ("CertificateRetrieval", 0x11, ALL), ("RecipientCount", 0x12, ALL),
    ("MaxCertificates", 0x13, ALL), ("MaxAmbiguousRecipients", 0x14, ALL),
    ("CertificateCount", 0x15, ALL), ("Availability", 0x16, SINCE_14_0),
    ("StartTime", 0x17, SINCE_14_0), ("EndTime", 0x18, SINCE_14_0),
    ("MergedFreeBusy", 0x19, SINCE_14_0), ("Picture", 0x1A, SINCE_14_1),
    ("MaxSize", 0x1B, SINCE_14_1), ("Data", 0x1C, SINCE_14_1),
    ("MaxPictures", 0x1D, SINCE_14_1),
)

# MS-ASWBXML 2.1.2.1.12
_VALIDATECERT = (
    ("ValidateCert", 0x05, ALL), ("Certificates", 0x06, ALL),
    ("Certificate", 0x07, ALL), ("CertificateChain", 0x08, ALL),
    ("CheckCRL", 0x09, ALL), ("Status", 0x0A, ALL),
)

# MS-ASWBXML 2.1.2.1.13
_CONTACTS2 = (
    ("CustomerId", 0x05, ALL), ("GovernmentId", 0x06, ALL),
    ("IMAddress", 0x07, ALL), ("IMAddress2", 0x08, ALL),
    ("IMAddress3", 0x09, ALL), ("ManagerName", 0x0A, ALL),
    ("CompanyMainPhone", 0x0B, ALL), ("AccountName", 0x0C, ALL),
    ("NickName", 0x0D, ALL), ("MMS", 0x0E, ALL),
)

# MS-ASWBXML 2.1.2.1.14
_PING = (
    ("Ping", 0x05, ALL), ("Status", 0x07, ALL), ("HeartbeatInterval", 0x08, ALL),
    ("Folders", 0x09, ALL), ("Folder", 0x0A, ALL), ("Id", 0x0B, ALL),
    ("Class", 0x0C, ALL), ("MaxFolders", 0x0D, ALL),
)

# MS-ASWBXML 2.1.2.1.15
_PROVISION = (
    ("Provision", 0x05, ALL), ("Policies", 0x06, ALL), ("Policy", 0x07, ALL),
    ("PolicyType", 0x08, ALL), ("PolicyKey", 0x09, ALL), ("Data", 0x0A, ALL),
    ("Status", 0x0B, ALL), ("RemoteWipe", 0x0C, ALL),
    ("EASProvisionDoc", 0x0D, SINCE_12_0),
    ("DevicePasswordEnabled", 0x0E, SINCE_12_0),
    ("AlphanumericDevicePasswordRequired", 0x0F, SINCE_12_0),
    ("RequireStorageCardEncryption", 0x10, SINCE_12_1),
    ("PasswordRecoveryEnabled", 0x11, SINCE_12_0),
    ("AttachmentsEnabled", 0x13, SINCE_12_0),
    ("MinDevicePasswordLength", 0x14, SINCE_12_0),
    ("MaxInactivityTimeDeviceLock", 0x15, SINCE_12_0),
    ("MaxDevicePasswordFailedAttempts", 0x16, SINCE_12_0),
    ("MaxAttachmentSize", 0x17, SINCE_12_0),
    ("AllowSimpleDevicePassword", 0x18, SINCE_12_0),
    ("DevicePasswordExpiration", 0x19, SINCE_12_0),
    ("DevicePasswordHistory", 0x1A, SINCE_12_0),
    ("AllowStorageCard", 0x1B, SINCE_12_1), ("AllowCamera", 0x1C, SINCE_12_1),
    ("RequireDeviceEncryption", 0x1D, SINCE_12_1),
    ("AllowUnsignedApplications", 0x1E, SINCE_12_1),
    ("AllowUnsignedInstallationPackages", 0x1F, SINCE_12_1),
    ("MinDevicePasswordComplexCharacters", 0x20, SINCE_12_1),
    ("AllowWiFi", 0x21, SINCE_12_1), ("AllowTextMessaging", 0x22, SINCE_12_1),
    ("AllowPOPIMAPEmail", 0x23, SINCE_12_1), ("AllowBluetooth", 0x24, SINCE_12_1),
    ("AllowIrDA", 0x25, SINCE_12_1),
    ("RequireManualSyncWhenRoaming", 0x26, SINCE_12_1),
    ("AllowDesktopSync", 0x27, SINCE_12_1),
    ("MaxCalendarAgeFilter", 0x28, SINCE_12_1),
    ("AllowHTMLEmail", 0x29, SINCE_12_1), ("MaxEmailAgeFilter", 0x2A, SINCE_12_1),
    ("MaxEmailBodyTruncationSize", 0x2B, SINCE_12_1),
    ("MaxEmailHTMLBodyTruncationSize", 0x2C, SINCE_12_1),
    ("RequireSignedSMIMEMessages", 0x2D, SINCE_12_1),
    ("RequireEncryptedSMIMEMessages", 0x2E, SINCE_12_1),
    ("RequireSignedSMIMEAlgorithm", 0x2F, SINCE_12_1),
    ("RequireEncryptionSMIMEAlgorithm", 0x30, SINCE_12_1),
    ("AllowSMIMEEncryptionAlgorithmNegotiation", 0x31, SINCE_12_1),
    ("AllowSMIMESoftCerts", 0x32, SINCE_12_1), ("AllowBrowser", 0x33, SINCE_12_1),
    ("AllowConsumerEmail", 0x34, SINCE_12_1),
    ("AllowRemoteDesktop", 0x35, SINCE_12_1),
    ("AllowInternetSharing", 0x36, SINCE_12_1),
    ("UnapprovedInROMApplicationList", 0x37, SINCE_12_1),
    ("ApplicationName", 0x38, SINCE_12_1),
    ("ApprovedApplicationList", 0x39, SINCE_12_1), ("Hash", 0x3A, SINCE_12_1),
    ("AccountOnlyRemoteWipe", 0x3B, V16_1),
)

# MS-ASWBXML 2.1.2.1.16
_SEARCH = (
    ("Search", 0x05, ALL), ("Store", 0x07, ALL), ("Name", 0x08, ALL),
    ("Query", 0x09, ALL), ("Options", 0x0A, ALL), ("Range", 0x0B, ALL),
    ("Status", 0x0C, ALL), ("Response", 0x0D, ALL), ("Result", 0x0E, ALL),
    ("Properties", 0x0F, ALL), ("Total", 0x10, ALL),
    ("EqualTo", 0x11, SINCE_12_0), ("Value", 0x12, SINCE_12_0),
    ("And", 0x13, SINCE_12_0), ("Or", 0x14, SINCE_12_0),
    ("FreeText", 0x15, SINCE_12_0), ("DeepTraversal", 0x17, SINCE_12_0),
    ("LongId", 0x18, SINCE_12_0), ("RebuildResults", 0x19, SINCE_12_0),
    ("LessThan", 0x1A, SINCE_12_0), ("GreaterThan", 0x1B, SINCE_12_0),
    ("UserName", 0x1E, SINCE_12_1), ("Password", 0x1F, SINCE_12_1),
    ("ConversationId", 0x20, SINCE_14_0), ("Picture", 0x21, SINCE_14_1),
    ("MaxSize", 0x22, SINCE_14_1), ("MaxPictures", 0x23, SINCE_14_1),
)

# MS-ASWBXML 2.1.2.1.17
_GAL = (
    ("DisplayName", 0x05, ALL), ("Phone", 0x06, ALL), ("Office", 0x07, ALL),
    ("Title", 0x08, ALL), ("Company", 0x09, ALL), ("Alias", 0x0A, ALL),
    ("FirstName", 0x0B, ALL), ("LastName", 0x0C, ALL), ("HomePhone", 0x0D, ALL),
    ("MobilePhone", 0x0E, ALL), ("EmailAddress", 0x0F, ALL),
    ("Picture", 0x10, SINCE_14_1), ("Status", 0x11, SINCE_14_1),
    ("Data", 0x12, SINCE_14_1),
)

# MS-ASWBXML 2.1.2.1.18
_AIRSYNCBASE = (
    ("BodyPreference", 0x05, SINCE_12_0), ("Type", 0x06, SINCE_12_0),
    ("TruncationSize", 0x07, SINCE_12_0), ("AllOrNone", 0x08, SINCE_12_0),
    ("Body", 0x0A, SINCE_12_0), ("Data", 0x0B, SINCE_12_0),
    ("EstimatedDataSize", 0x0C, SINCE_12_0), ("Truncated", 0x0D, SINCE_12_0),
    ("Attachments", 0x0E, SINCE_12_0), ("Attachment", 0x0F, SINCE_12_0),
    ("DisplayName", 0x10, SINCE_12_0), ("FileReference", 0x11, SINCE_12_0),
    ("Method", 0x12, SINCE_12_0), ("ContentId", 0x13, SINCE_12_0),
    ("ContentLocation", 0x14, SINCE_12_0), ("IsInline", 0x15, SINCE_12_0),
    ("NativeBodyType", 0x16, SINCE_12_0), ("ContentType", 0x17, SINCE_12_0),
    ("Preview", 0x18, SINCE_14_0), ("BodyPartPreference", 0x19, SINCE_14_1),
    ("BodyPart", 0x1A, SINCE_14_1), ("Status", 0x1B, SINCE_14_1),
    ("Add", 0x1C, SINCE_16_0), ("Delete", 0x1D, SINCE_16_0),
    ("ClientId", 0x1E, SINCE_16_0), ("Content", 0x1F, SINCE_16_0),
    ("Location", 0x20, SINCE_16_0), ("Annotation", 0x21, SINCE_16_0),
    ("Street", 0x22, SINCE_16_0), ("City", 0x23, SINCE_16_0),
    ("State", 0x24, SINCE_16_0), ("Country", 0x25, SINCE_16_0),
    ("PostalCode", 0x26, SINCE_16_0), ("Latitude", 0x27, SINCE_16_0),
    ("Longitude", 0x28, SINCE_16_0), ("Accuracy", 0x29, SINCE_16_0),
    ("Altitude", 0x2A, SINCE_16_0), ("AltitudeAccuracy", 0x2B, SINCE_16_0),
    ("LocationUri", 0x2C, SINCE_16_0), ("InstanceId", 0x2D, SINCE_16_0),
)

# MS-ASWBXML 2.1.2.1.19 (the spec assigns no tag to 0x2A).
_SETTINGS = (
    ("Settings", 0x05, SINCE_12_0), ("Status", 0x06, SINCE_12_0),
    ("Get", 0x07, SINCE_12_0), ("Set", 0x08, SINCE_12_0), ("Oof", 0x09, SINCE_12_0),
    ("OofState", 0x0A, SINCE_12_0), ("StartTime", 0x0B, SINCE_12_0),
    ("EndTime", 0x0C, SINCE_12_0), ("OofMessage", 0x0D, SINCE_12_0),
    ("AppliesToInternal", 0x0E, SINCE_12_0),
    ("AppliesToExternalKnown", 0x0F, SINCE_12_0),
    ("AppliesToExternalUnknown", 0x10, SINCE_12_0),
    ("Enabled", 0x11, SINCE_12_0), ("ReplyMessage", 0x12, SINCE_12_0),
    ("BodyType", 0x13, SINCE_12_0), ("DevicePassword", 0x14, SINCE_12_0),
    ("Password", 0x15, SINCE_12_0), ("DeviceInformation", 0x16, SINCE_12_0),
    ("Model", 0x17, SINCE_12_0), ("IMEI", 0x18, SINCE_12_0),
    ("FriendlyName", 0x19, SINCE_12_0), ("OS", 0x1A, SINCE_12_0),
    ("OSLanguage", 0x1B, SINCE_12_0), ("PhoneNumber", 0x1C, SINCE_12_0),
    ("UserInformation", 0x1D, SINCE_12_0), ("EmailAddresses", 0x1E, SINCE_12_0),
    ("SMTPAddress", 0x1F, SINCE_12_0), ("UserAgent", 0x20, SINCE_12_1),
    ("EnableOutboundSMS", 0x21, SINCE_14_0), ("MobileOperator", 0x22, SINCE_14_0),
    ("PrimarySmtpAddress", 0x23, SINCE_14_1), ("Accounts", 0x24, SINCE_14_1),
    ("Account", 0x25, SINCE_14_1), ("AccountId", 0x26, SINCE_14_1),
    ("AccountName", 0x27, SINCE_14_1), ("UserDisplayName", 0x28, SINCE_14_1),
    ("SendDisabled", 0x29, SINCE_14_1),
    ("RightsManagementInformation", 0x2B, SINCE_14_1),
)

# MS-ASWBXML 2.1.2.1.20
_DOCUMENTLIBRARY = (
    ("LinkId", 0x05, SINCE_12_0), ("DisplayName", 0x06, SINCE_12_0),
    ("IsFolder", 0x07, SINCE_12_0), ("CreationDate", 0x08, SINCE_12_0),
    ("LastModifiedDate", 0x09, SINCE_12_0), ("IsHidden", 0x0A, SINCE_12_0),
    ("ContentLength", 0x0B, SINCE_12_0), ("ContentType", 0x0C, SINCE_12_0),
)

# MS-ASWBXML 2.1.2.1.21
_ITEMOPERATIONS = (
    ("ItemOperations", 0x05, SINCE_12_0), ("Fetch", 0x06, SINCE_12_0),
    ("Store", 0x07, SINCE_12_0), ("Options", 0x08, SINCE_12_0),
    ("Range", 0x09, SINCE_12_0), ("Total", 0x0A, SINCE_12_0),
    ("Properties", 0x0B, SINCE_12_0), ("Data", 0x0C, SINCE_12_0),
    ("Status", 0x0D, SINCE_12_0), ("Response", 0x0E, SINCE_12_0),
    ("Version", 0x0F, SINCE_12_0), ("Schema", 0x10, SINCE_12_0),
    ("Part", 0x11, SINCE_12_0), ("EmptyFolderContents", 0x12, SINCE_12_0),
    ("DeleteSubFolders", 0x13, SINCE_12_0), ("UserName", 0x14, SINCE_12_1),
    ("Password", 0x15, SINCE_12_1), ("Move", 0x16, SINCE_14_0),
    ("DstFldId", 0x17, SINCE_14_0), ("ConversationId", 0x18, SINCE_14_0),
    ("MoveAlways", 0x19, SINCE_14_0),
)

# MS-ASWBXML 2.1.2.1.22 (the spec assigns no tag to 0x0A or 0x14).
_COMPOSEMAIL = (
    ("SendMail", 0x05, SINCE_14_0), ("SmartForward", 0x06, SINCE_14_0),
    ("SmartReply", 0x07, SINCE_14_0), ("SaveInSentItems", 0x08, SINCE_14_0),
    ("ReplaceMime", 0x09, SINCE_14_0), ("Source", 0x0B, SINCE_14_0),
    ("FolderId", 0x0C, SINCE_14_0), ("ItemId", 0x0D, SINCE_14_0),
    ("LongId", 0x0E, SINCE_14_0), ("InstanceId", 0x0F, SINCE_14_0),
    ("Mime", 0x10, SINCE_14_0), ("ClientId", 0x11, SINCE_14_0),
    ("Status", 0x12, SINCE_14_0), ("AccountId", 0x13, SINCE_14_1),
    ("Forwardees", 0x15, SINCE_16_0), ("Forwardee", 0x16, SINCE_16_0),
    ("Name", 0x17, SINCE_16_0), ("Email", 0x18, SINCE_16_0),
)

# MS-ASWBXML 2.1.2.1.23 (the spec assigns no tag to 0x14).
_EMAIL2 = (
    ("UmCallerID", 0x05, SINCE_14_0), ("UmUserNotes", 0x06, SINCE_14_0),
    ("UmAttDuration", 0x07, SINCE_14_0), ("UmAttOrder", 0x08, SINCE_14_0),
    ("ConversationId", 0x09, SINCE_14_0), ("ConversationIndex", 0x0A, SINCE_14_0),
    ("LastVerbExecuted", 0x0B, SINCE_14_0),
    ("LastVerbExecutionTime", 0x0C, SINCE_14_0),
    ("ReceivedAsBcc", 0x0D, SINCE_14_0), ("Sender", 0x0E, SINCE_14_0),
    ("CalendarType", 0x0F, SINCE_14_0), ("IsLeapMonth", 0x10, SINCE_14_0),
    ("AccountId", 0x11, SINCE_14_1), ("FirstDayOfWeek", 0x12, SINCE_14_1),
    ("MeetingMessageType", 0x13, SINCE_14_1), ("IsDraft", 0x15, SINCE_16_0),
    ("Bcc", 0x16, SINCE_16_0), ("Send", 0x17, SINCE_16_0),
)

# MS-ASWBXML 2.1.2.1.24
_NOTES = (
    ("Subject", 0x05, SINCE_14_0), ("MessageClass", 0x06, SINCE_14_0),
    ("LastModifiedDate", 0x07, SINCE_14_0), ("Categories", 0x08, SINCE_14_0),
    ("Category", 0x09, SINCE_14_0),
)

# MS-ASWBXML 2.1.2.1.25
_RIGHTSMANAGEMENT = (
    ("RightsManagementSupport", 0x05, SINCE_14_1),
    ("RightsManagementTemplates", 0x06, SINCE_14_1),
    ("RightsManagementTemplate", 0x07, SINCE_14_1),
    ("RightsManagementLicense", 0x08, SINCE_14_1),
    ("EditAllowed", 0x09, SINCE_14_1), ("ReplyAllowed", 0x0A, SINCE_14_1),
    ("ReplyAllAllowed", 0x0B, SINCE_14_1), ("ForwardAllowed", 0x0C, SINCE_14_1),
    ("ModifyRecipientsAllowed", 0x0D, SINCE_14_1),
    ("ExtractAllowed", 0x0E, SINCE_14_1), ("PrintAllowed", 0x0F, SINCE_14_1),
    ("ExportAllowed", 0x10, SINCE_14_1),
    ("ProgrammaticAccessAllowed", 0x11, SINCE_14_1), ("Owner", 0x12, SINCE_14_1),
    ("ContentExpiryDate", 0x13, SINCE_14_1), ("TemplateID", 0x14, SINCE_14_1),
    ("TemplateName", 0x15, SINCE_14_1), ("TemplateDescription", 0x16, SINCE_14_1),
    ("ContentOwner", 0x17, SINCE_14_1),
    ("RemoveRightsManagementProtection", 0x18, SINCE_14_1),
)

# MS-ASWBXML 2.1.2.1.26 (0x0F, 0x10 and 0x1A-0x1F carry no tag).
_FIND = (
    ("Find", 0x05, V16_1), ("SearchId", 0x06, V16_1), ("ExecuteSearch", 0x07, V16_1),
    ("MailBoxSearchCriterion", 0x08, V16_1), ("Query", 0x09, V16_1),
    ("Status", 0x0A, V16_1), ("FreeText", 0x0B, V16_1), ("Options", 0x0C, V16_1),
    ("Range", 0x0D, V16_1), ("DeepTraversal", 0x0E, V16_1),
    ("Response", 0x11, V16_1), ("Result", 0x12, V16_1),
    ("Properties", 0x13, V16_1), ("Preview", 0x14, V16_1),
    ("HasAttachments", 0x15, V16_1), ("Total", 0x16, V16_1),
    ("DisplayCc", 0x17, V16_1), ("DisplayBcc", 0x18, V16_1),
    ("GalSearchCriterion", 0x19, V16_1), ("MaxPictures", 0x20, V16_1),
    ("MaxSize", 0x21, V16_1), ("Picture", 0x22, V16_1),
)

#: Code pages by number, MS-ASWBXML 2.1.2.1 (namespace, prefix, tags).
CODE_PAGES: tuple[CodePage, ...] = (
    _page(0, "AirSync", "airsync", _AIRSYNC),
    _page(1, "Contacts", "contacts", _CONTACTS),
    _page(2, "Email", "email", _EMAIL),
    _page(3, "AirNotify", "airnotify", _AIRNOTIFY),
    _page(4, "Calendar", "calendar", _CALENDAR),
    _page(5, "Move", "move", _MOVE),
    _page(6, "GetItemEstimate", "getitemestimate", _GETITEMESTIMATE),
    _page(7, "FolderHierarchy", "folderhierarchy", _FOLDERHIERARCHY),
    _page(8, "MeetingResponse", "meetingresponse", _MEETINGRESPONSE),
    _page(9, "Tasks", "tasks", _TASKS),
    _page(10, "ResolveRecipients", "resolverecipients", _RESOLVERECIPIENTS),
    _page(11, "ValidateCert", "validatecert", _VALIDATECERT),
    _page(12, "Contacts2", "contacts2", _CONTACTS2),
    _page(13, "Ping", "ping", _PING),
    _page(14, "Provision", "provision", _PROVISION),
    _page(15, "Search", "search", _SEARCH),
    _page(16, "Gal", "gal", _GAL),
    _page(17, "AirSyncBase", "airsyncbase", _AIRSYNCBASE),
    _page(18, "Settings", "settings", _SETTINGS),
    _page(19, "DocumentLibrary", "documentlibrary", _DOCUMENTLIBRARY),
    _page(20, "ItemOperations", "itemoperations", _ITEMOPERATIONS),
    _page(21, "ComposeMail", "composemail", _COMPOSEMAIL),
    _page(22, "Email2", "email2", _EMAIL2),
    _page(23, "Notes", "notes", _NOTES),
    _page(24, "RightsManagement", "rm", _RIGHTSMANAGEMENT),
    _page(25, "Find", "find", _FIND),
)

#: prefix -> namespace URI, the prefixes the MS-ASCMD examples use.
NAMESPACES: dict[str, str] = {page.prefix: page.namespace for page in CODE_PAGES}

#: namespace URI -> code page number.
PAGE_BY_NAMESPACE: dict[str, int] = {page.namespace: page.number for page in CODE_PAGES}

#: Clark name -> Tag, for the encoder.
TAG_BY_CLARK: dict[str, Tag] = {tag.clark: tag for page in CODE_PAGES for tag in page.tags}


#: (code page, token) -> Tag, for the decoder.
TAG_BY_TOKEN: dict[tuple[int, int], Tag] = {
    (tag.page, tag.token): tag for page in CODE_PAGES for tag in page.tags
}
