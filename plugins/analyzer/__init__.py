"""The connectivity analyzer: Microsoft's Remote Connectivity Analyzer ActiveSync test, run inside the lab.

Steps in ExRCA's order and words (:mod:`.activesync`), each passing or failing
with the real answer; a failed step names the setting behind it
(:mod:`.causes`). As a CLI command (``analyze activesync``, :mod:`.cli`) and as
a web page (``exrca.dll``, :mod:`.page`). See docs/analyzer.md.
"""
