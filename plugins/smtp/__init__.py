"""The SMTP virtual server (IIS SMTPSVC as Exchange 2003 extends it): mail into the lab's mailboxes.

Mail arrives over real SMTP (aiosmtpd) on the bindings of ``[/LM/SMTPSVC/n]``,
the categorizer resolves each recipient in the directory by its proxy
addresses, and the store driver delivers into the mailbox store, where real
quotas can refuse it. Mail a mailbox submits (OWA, MASSYNC SendMail) takes
the same path in-process; what leaves the lab goes to the Pickup folder,
never to the network.
"""
