"""Alert channels against real receivers: an aiosmtpd SMTP server and an HTTP webhook receiver on loopback."""

import asyncio

import pytest

from gateway_app.core.errors import InvalidInput
from gateway_app.core.outbound import OutboundPolicy
from gateway_app.services.alerts import mail
from gateway_app.services.alerts.webhooks import SIGNATURE_HEADER, deliver, verify
from tests.support.processes import free_port
from tests.support.receivers import Receiver, SmtpSink

VALUES = {"tenant": "acme", "rule": "Error rate above 5 %", "metric": "error_rate", "operator": ">",
          "threshold": 0.05, "value": 0.31, "severity": "critical", "window_minutes": 5,
          "at": "2026-12-03T10:00:00Z", "filters": "model=gpt-test", "console_url": "http://console/alerts",
          "channel": "ops mail"}


@pytest.fixture
def smtp_sink():
    sink = SmtpSink()
    yield sink.controller, sink.sink
    sink.stop()


def test_firing_email_has_subject_both_parts_and_the_values(smtp_sink):
    controller, sink = smtp_sink
    settings = mail.SmtpSettings(host="127.0.0.1", port=controller.port, sender="alerts@gatehouse.test",
                                 security="auto")
    subject, text, html = mail.render("firing", {**VALUES, "rule": "<b>errors</b>"})
    mail.send(settings, mail.message(settings, ["ops@acme.io", "lead@acme.io"], subject, text, html))
    (recipients, received), = sink.messages
    assert recipients == ["ops@acme.io", "lead@acme.io"]
    assert received["Subject"] == "[CRITICAL] <b>errors</b>: error_rate > 0.05 (acme)"
    plain = received.get_body(("plain",)).get_content()
    rich = received.get_body(("html",)).get_content()
    assert "Value:     0.31" in plain and "model=gpt-test" in plain
    assert "<strong>0.31</strong>" in rich and "&lt;b&gt;errors&lt;/b&gt;" in rich, "values are escaped in HTML"
    assert "<b>errors</b>" not in rich


def test_tenant_overrides_render_in_the_sandbox(smtp_sink):
    overrides = mail.Overrides(subject="{{ tenant }} alert: {{ rule }}", body="{{ metric }} is {{ value }} <x>")
    subject, text, html = mail.render("firing", VALUES, overrides)
    assert subject == "acme alert: Error rate above 5 %" and text == "error_rate is 0.31 <x>"
    assert "error_rate is 0.31 &lt;x&gt;" in html
    with pytest.raises(InvalidInput):
        mail.check_override("{{ ''.__class__.__mro__ }", "subject")  # not a template
    with pytest.raises(InvalidInput):
        mail.render("firing", VALUES, mail.Overrides(body="{{ ''.__class__.__mro__[1].__subclasses__() }}"))


def test_an_unreachable_smtp_server_is_an_error_not_a_hang():
    settings = mail.SmtpSettings(host="127.0.0.1", port=free_port(), timeout=2)
    with pytest.raises(OSError):
        mail.send(settings, mail.message(settings, ["a@b.c"], *mail.render("test", VALUES)))


@pytest.fixture
def receiver():
    made = []

    def start(*statuses):
        made.append(Receiver(statuses))
        return made[-1]
    yield start
    for one in made:
        one.stop()


async def test_webhook_is_signed_and_retried_until_delivered(receiver):
    hook = receiver(503, 500)
    policy = OutboundPolicy.from_config(False, f"127.0.0.1:{hook.server.server_port}", "")
    attempts = await deliver(policy, hook.url, "whsec-1234", {"event": "firing", "value": 0.31}, backoff=0.05)
    assert [a.status for a in attempts] == [503, 500, 200] and attempts[-1].ok
    headers, body = hook.received[-1]
    assert verify("whsec-1234", headers[SIGNATURE_HEADER], body), "the receiver can verify what it got"
    assert not verify("other-secret", headers[SIGNATURE_HEADER], body)
    assert not verify("whsec-1234", headers[SIGNATURE_HEADER], body + b" "), "a changed body fails"
    assert body == b'{"event":"firing","value":0.31}'


async def test_webhook_refused_for_good_is_not_retried_and_private_addresses_are_refused(receiver):
    hook = receiver(410)
    allowed = OutboundPolicy.from_config(False, f"127.0.0.1:{hook.server.server_port}", "")
    assert [a.status for a in await deliver(allowed, hook.url, "s", {}, backoff=0.05)] == [410]
    strict = OutboundPolicy.from_config(False, "", "")
    refused = await deliver(strict, hook.url, "s", {}, backoff=0.05)
    assert len(refused) == 1 and refused[0].status == 0 and "loopback" in refused[0].error.lower()
    assert len(hook.received) == 1, "nothing reached the refused address"
    await asyncio.sleep(0)
