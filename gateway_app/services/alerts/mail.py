"""Alert e-mails: Jinja2 templates (HTML and text part, autoescaped) sent over SMTP (STARTTLS, TLS, auth).

Each event type has a template pair in templates/ (`<type>.html`, `<type>.txt`, `<type>.subject`).
A tenant may override the subject and the text body; overrides run in Jinja2's sandbox, with the
same variables, and the HTML part then shows the overridden text escaped.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateError, select_autoescape
from jinja2.sandbox import ImmutableSandboxedEnvironment

from gateway_app.core.errors import InvalidInput

TEMPLATES = Path(__file__).with_name("templates")
EVENT_TYPES = ("firing", "resolved", "test", "daily_report")
MAX_OVERRIDE_CHARS = 10_000

_files = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                     undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
_sandbox = ImmutableSandboxedEnvironment(autoescape=False, undefined=StrictUndefined)


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send (SMTP_* settings)."""

    host: str
    port: int = 25
    user: str = ""
    password: str = ""
    sender: str = "gatehouse@localhost"
    security: str = "auto"  # auto (STARTTLS when offered) | starttls | tls | none
    timeout: float = 10.0

    @property
    def configured(self) -> bool:
        return bool(self.host)


@dataclass(frozen=True)
class Overrides:
    """A tenant's subject and text body for one event type (empty: the built-in template)."""

    subject: str = ""
    body: str = ""


def check_override(text: str, field: str) -> None:
    """A 400 naming the field when an override is too long or not a valid template."""
    if len(text) > MAX_OVERRIDE_CHARS:
        raise InvalidInput(f"{field} is longer than {MAX_OVERRIDE_CHARS} characters", param=field)
    try:
        _sandbox.parse(text)
    except TemplateError as exc:
        raise InvalidInput(f"{field} is not a valid template: {exc}", param=field) from None


def render(event_type: str, values: dict, overrides: Overrides = Overrides()) -> tuple[str, str, str]:
    """(subject, text, html) of an event's e-mail."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    try:
        subject = (_sandbox.from_string(overrides.subject).render(values) if overrides.subject
                   else _files.get_template(f"{event_type}.subject").render(values))
        if overrides.body:
            text = _sandbox.from_string(overrides.body).render(values)
            html = _files.get_template("override.html").render(values, body=text)
        else:
            text = _files.get_template(f"{event_type}.txt").render(values)
            html = _files.get_template(f"{event_type}.html").render(values)
    except TemplateError as exc:
        raise InvalidInput(f"the e-mail template failed: {exc}") from None
    return " ".join(subject.split())[:200], text, html


def message(smtp: SmtpSettings, to: list[str], subject: str, text: str, html: str) -> EmailMessage:
    """A multipart/alternative message: the text part first, the HTML part preferred."""
    mail = EmailMessage()
    mail["From"] = smtp.sender
    mail["To"] = ", ".join(to)
    mail["Subject"] = subject
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = make_msgid(domain=smtp.sender.rpartition("@")[2] or "gatehouse")
    mail.set_content(text)
    mail.add_alternative(html, subtype="html")
    return mail


def send(smtp: SmtpSettings, mail: EmailMessage) -> None:
    """Deliver over SMTP (blocking: call from a thread). Raises OSError / smtplib.SMTPException."""
    if not smtp.configured:
        raise smtplib.SMTPException("SMTP_HOST is not set")
    context = ssl.create_default_context()
    if smtp.security == "tls":
        client: smtplib.SMTP = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout, context=context)
    else:
        client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout)
    with client:
        client.ehlo()
        if smtp.security == "starttls" or (smtp.security == "auto" and client.has_extn("starttls")):
            client.starttls(context=context)
            client.ehlo()
        if smtp.user:
            client.login(smtp.user, smtp.password)
        client.send_message(mail)
