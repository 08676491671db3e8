"""The analyzer as a web page: ``exrca.dll``, served from its own vdir (``/exrca``).

Like testexchangeconnectivity.com: a form (e-mail address, user, password,
Autodiscover or a URL typed in, "Ignore Trust for SSL"), then the steps as a
tree that expands (HTML ``<details>``, no script). The test runs inside the
host, against the host's own listeners over the network, and the page shows
the setting behind a failed step. The vdir's AuthFlags decide who may use it;
the page itself asks for the mailbox credentials it tests with.
"""
from __future__ import annotations

from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined
from webob import Request, Response

from .activesync import analyze_activesync
from .lab import Lab, Target
from .report import MARKS

HEADERS = (("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                                       "frame-ancestors 'none'"),
           ("X-Content-Type-Options", "nosniff"), ("Cache-Control", "no-store"))


@cache
def templates() -> Environment:
    env = Environment(loader=PackageLoader("plugins.analyzer", "templates"), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.globals["marks"] = MARKS
    return env


def make_app(service):
    """The handler factory registered as ``exrca.dll``."""

    def app(environ, start_response):
        req = Request(environ)
        form = {"email": "", "user": "", "url": "", "manual": False, "ignore_trust": False, "full": False}
        report, error = None, ""
        if req.method == "POST":
            form.update(email=req.POST.get("email", "").strip(), user=req.POST.get("user", "").strip(),
                        url=req.POST.get("url", "").strip(), manual=req.POST.get("discovery") == "manual",
                        ignore_trust="ignore_trust" in req.POST, full="full" in req.POST)
            if "@" not in form["email"] or not form["user"] or (form["manual"] and not form["url"]):
                error = "Enter an e-mail address, a user name and, for a manual test, the server URL."
            else:
                lab = Lab.open(environ["host.config"], service.data_dir, pki=service.pki,
                               eventlog=service.eventlog)
                target = Target(form["email"], form["user"], req.POST.get("password", ""),
                                url=form["url"] if form["manual"] else "", ignore_trust=form["ignore_trust"])
                report = analyze_activesync(lab, target, full=form["full"])
        elif req.method != "GET":
            response = Response(status=405, headerlist=[("Allow", "GET, POST")])
            return response(environ, start_response)
        body = templates().get_template("exrca.html").render(form=form, report=report, error=error)
        response = Response(body=body.encode("utf-8"), content_type="text/html", charset="utf-8")
        response.headerlist.extend(HEADERS)
        return response(environ, start_response)

    return app
