"""The Exchange 2003-style mailbox server: the mailbox store behind /exchange and MASSYNC."""
