"""Conversation identity (MS-ASCON): which mail items belong to one conversation.

Exchange derived PidTagConversationId from the conversation index; the lab
store keeps no index, so a conversation is its thread topic (the subject
without Re:/Fw: prefixes, case-insensitively) and its id the first 16 bytes
of that topic's MD5, the size Exchange's ids have. The id is what
ItemOperations Move (conversation move) compares; a converter that sends
``Email2:ConversationId`` must send this value.
"""
from __future__ import annotations

import hashlib

_PREFIXES = ("re:", "fw:", "fwd:", "aw:", "wg:")


def thread_topic(subject: str) -> str:
    topic = subject.strip()
    for _ in range(10):  # bounded: "Re: Fw: Re: x"
        lowered = topic.lower()
        prefix = next((p for p in _PREFIXES if lowered.startswith(p)), None)
        if prefix is None:
            break
        topic = topic[len(prefix):].strip()
    return topic


def conversation_id(subject: str) -> bytes:
    return hashlib.md5(thread_topic(subject).casefold().encode("utf-8")).digest()
