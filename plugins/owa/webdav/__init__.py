"""Exchange 2003's WebDAV on /exchange: WsgiDAV resources over the store, and Exchange's own methods."""
