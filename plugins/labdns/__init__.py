"""The lab DNS: zones kept in registry.ini, served on a loopback address, queried with a real resolver.

Devices and the connectivity analyzer find ``mail.contoso.com`` and
``autodiscover.contoso.com`` the way a phone does: a DNS query, answered by
the lab's own DNS server (dnslib) from the zones in the registry. No outside
DNS server is ever asked about a lab name, and a missing record fails the way
a real lookup fails (NXDOMAIN, or a name without the record asked for).
"""
