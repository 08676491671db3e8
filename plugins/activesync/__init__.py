"""MASSYNC: the Exchange ActiveSync handler (vdir /Microsoft-Server-ActiveSync)."""
