"""The analyzer's report: ExRCA's tree of steps, each with its result, details and cause.

A step's ``result`` comes from what really happened (a DNS answer, a TCP
connect, a TLS handshake, an HTTP status, an EAS Status). ``cause`` is added
afterwards, when a step failed: the setting behind it, with the file:line
it came from, which the real ExRCA cannot know.
"""
from __future__ import annotations

from dataclasses import dataclass, field

SUCCESS, WARNING, FAILURE, SKIPPED = "success", "warning", "failure", "skipped"
MARKS = {SUCCESS: "[ OK ]", WARNING: "[WARN]", FAILURE: "[FAIL]", SKIPPED: "[SKIP]"}
VERDICTS = {SUCCESS: "Connectivity Test Successful", WARNING: "Connectivity Test Successful with Warnings",
            FAILURE: "Connectivity Test Failed"}


@dataclass(frozen=True)
class Cause:
    """The setting that made a step fail, where it was set, and why it matters."""

    setting: str  # "AccessSSLFlags"
    key: str  # "/LM/W3SVC/1/ROOT/Microsoft-Server-ActiveSync"
    value: str  # "0x40 (AccessSSLRequireCert)"
    origin: str  # "registry.ini:271 [/LM/W3SVC/1/ROOT/Microsoft-Server-ActiveSync]" or "default"
    explanation: str

    def __str__(self) -> str:
        return f"{self.setting} = {self.value} of [{self.key}] ({self.origin}): {self.explanation}"


@dataclass
class Step:
    """One line of the ExRCA tree; ``children`` are its sub-tests."""

    title: str
    result: str = SUCCESS
    summary: str = ""
    details: list[str] = field(default_factory=list)
    causes: list[Cause] = field(default_factory=list)
    children: list[Step] = field(default_factory=list)
    elapsed_ms: int = 0

    @property
    def failed(self) -> bool:
        return self.result == FAILURE

    def fail(self, summary: str, *details: str) -> Step:
        self.result, self.summary = FAILURE, summary
        self.details += details
        return self

    def warn(self, summary: str, *details: str) -> Step:
        self.result, self.summary = WARNING, summary
        self.details += details
        return self

    def child(self, step: Step) -> Step:
        self.children.append(step)
        return step


@dataclass
class Report:
    """A whole run: what was tested, for whom, and the steps in ExRCA's order."""

    title: str
    subject: str
    steps: list[Step] = field(default_factory=list)

    @property
    def result(self) -> str:
        results = {s.result for s in self.steps}
        return FAILURE if FAILURE in results else WARNING if WARNING in results else SUCCESS

    @property
    def verdict(self) -> str:
        return VERDICTS[self.result]

    def add(self, step: Step) -> Step:
        self.steps.append(step)
        return step

    def text(self) -> str:
        """The report as the CLI prints it: one line per step, details indented under it."""
        lines = [f"{self.title}: {self.subject}", ""]
        for step in self.steps:
            _text(step, 0, lines)
        lines += ["", self.verdict]
        return "\n".join(lines)


def _text(step: Step, depth: int, lines: list[str]) -> None:
    pad = "    " * depth
    lines.append(f"{pad}{MARKS[step.result]} {step.title}")
    inner = pad + "       "
    if step.summary:
        lines.append(f"{inner}{step.summary}")
    lines += [f"{inner}  {d}" for d in step.details]
    for cause in step.causes:
        lines.append(f"{inner}Caused by: {cause}")
    for child in step.children:
        _text(child, depth + 1, lines)
