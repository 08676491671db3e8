"""Autodiscover (vdir /Autodiscover): POX for mobile devices and Outlook, AutodiscoverV2 JSON,
and the discovery sequence a client runs to find it.

Exchange 2003 had no Autodiscover; Exchange 2007 added it on the Client
Access server, and the lab adds it beside MASSYNC so that devices find the
ActiveSync URL the way they do against later Exchange versions. What it
answers comes from the registry: the URLs published for the vdirs
(``InternalUrl``/``ExternalUrl``, as Set-ActiveSyncVirtualDirectory sets
them) and the SMTP domains served by another organisation
(``RedirectDomains``).
"""
