"""Tests of the mailbox server plugin (plugins/owa)."""
