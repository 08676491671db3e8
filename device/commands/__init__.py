"""Request bodies and response readers, one module per MS-ASCMD command family.

Builders are pure functions of the protocol version and their arguments, so
element order can be checked without a server; readers turn a decoded
response into plain dataclasses and never raise on an unexpected Status
(the session decides what a Status means).
"""
