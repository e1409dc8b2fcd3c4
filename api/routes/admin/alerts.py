"""Alert channels, rules and events of a tenant, and evaluating its rules now."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.deps import PlatformDep, PrincipalDep, TenantDep
from api.params import Limit, Offset, Ref
from gateway_app.services.alerts.channels import (
    ChannelCreate,
    ChannelOut,
    ChannelUpdate,
    PreviewIn,
    PreviewOut,
    TestResult,
)
from gateway_app.services.alerts.evaluation import EvaluationOut, EventSeries
from gateway_app.services.alerts.reports import ReportIn, ReportOut
from gateway_app.services.alerts.rules import DeliveryOut, EventOut, RuleCreate, RuleOut, RuleUpdate

router = APIRouter(prefix="/alerts", tags=["alerts"])


@router.get("/channels", response_model=list[ChannelOut], summary="List alert channels")
def list_channels(platform: PlatformDep, principal: PrincipalDep, tenant: TenantDep) -> list[ChannelOut]:
    """E-mail and webhook channels, by name (webhook secrets are never shown again)."""
    return platform.alert_channels.list(principal, tenant)


@router.post("/channels", response_model=ChannelOut, status_code=201, summary="Create an alert channel")
def create_channel(body: ChannelCreate, platform: PlatformDep, principal: PrincipalDep,
                   tenant: TenantDep) -> ChannelOut:
    """A webhook without `secret` gets a generated one, shown in this answer only."""
    return platform.alert_channels.create(principal, tenant, body)


@router.get("/channels/{channel}", response_model=ChannelOut, summary="Get an alert channel by id or name")
def get_channel(channel: Ref, platform: PlatformDep, principal: PrincipalDep, tenant: TenantDep) -> ChannelOut:
    """One channel."""
    return platform.alert_channels.get(principal, tenant, channel)


@router.patch("/channels/{channel}", response_model=ChannelOut, summary="Change an alert channel")
def update_channel(channel: Ref, body: ChannelUpdate, platform: PlatformDep, principal: PrincipalDep,
                   tenant: TenantDep) -> ChannelOut:
    """Send only the fields to change."""
    return platform.alert_channels.update(principal, tenant, channel, body)


@router.delete("/channels/{channel}", status_code=204, summary="Delete an alert channel")
def delete_channel(channel: Ref, platform: PlatformDep, principal: PrincipalDep, tenant: TenantDep) -> Response:
    """Rules that named it stop sending there."""
    platform.alert_channels.delete(principal, tenant, channel)
    return Response(status_code=204)


@router.post("/channels/{channel}/test", response_model=TestResult, summary="Send a test notification")
async def test_channel(channel: Ref, platform: PlatformDep, principal: PrincipalDep, tenant: TenantDep) -> TestResult:
    """A test e-mail or webhook now; says whether it was delivered."""
    return await platform.alert_channels.test(principal, tenant, channel)


@router.post("/preview", response_model=PreviewOut, summary="Preview an e-mail template override")
def preview_mail(body: PreviewIn, platform: PlatformDep, principal: PrincipalDep, tenant: TenantDep) -> PreviewOut:
    """The e-mail an event type sends with this subject and body, rendered with sample values."""
    return platform.alert_channels.preview(principal, tenant, body, platform.settings.console_url)


@router.get("/rules", response_model=list[RuleOut], summary="List alert rules")
def list_rules(platform: PlatformDep, principal: PrincipalDep, tenant: TenantDep) -> list[RuleOut]:
    """Rules by name, with their state."""
    return platform.alert_rules.list(principal, tenant)


@router.post("/rules", response_model=RuleOut, status_code=201, summary="Create an alert rule")
def create_rule(body: RuleCreate, platform: PlatformDep, principal: PrincipalDep, tenant: TenantDep) -> RuleOut:
    """Channels must exist in the tenant (422 naming the one that does not)."""
    return platform.alert_rules.create(principal, tenant, body)


@router.get("/rules/{rule}", response_model=RuleOut, summary="Get an alert rule by id or name")
def get_rule(rule: Ref, platform: PlatformDep, principal: PrincipalDep, tenant: TenantDep) -> RuleOut:
    """One rule and its state."""
    return platform.alert_rules.get(principal, tenant, rule)


@router.patch("/rules/{rule}", response_model=RuleOut, summary="Change an alert rule")
def update_rule(rule: Ref, body: RuleUpdate, platform: PlatformDep, principal: PrincipalDep,
                tenant: TenantDep) -> RuleOut:
    """Send only the fields to change; null clears warning or critical (one must remain)."""
    return platform.alert_rules.update(principal, tenant, rule, body)


@router.delete("/rules/{rule}", status_code=204, summary="Delete an alert rule")
def delete_rule(rule: Ref, platform: PlatformDep, principal: PrincipalDep, tenant: TenantDep) -> Response:
    """Its events stay in the history."""
    platform.alert_rules.delete(principal, tenant, rule)
    return Response(status_code=204)


@router.get("/events", response_model=list[EventOut], summary="Alert events, newest first")
def list_events(platform: PlatformDep, principal: PrincipalDep, tenant: TenantDep, rule: str | None = None,
                offset: Offset = 0, limit: Limit = 50) -> list[EventOut]:
    """Firing and resolved events (of one rule, by id or name, when `rule` is given)."""
    return platform.alert_rules.events(principal, tenant, rule, offset=offset, limit=limit)


@router.post("/events/{event_id}/acknowledge", response_model=EventOut, summary="Acknowledge an alert event")
def acknowledge(event_id: Ref, platform: PlatformDep, principal: PrincipalDep, tenant: TenantDep) -> EventOut:
    """Records who saw it, and when."""
    return platform.alert_rules.acknowledge(principal, tenant, event_id)


@router.get("/events/{event_id}/series", response_model=EventSeries, summary="The rule's metric around an event")
async def event_series(event_id: Ref, platform: PlatformDep, principal: PrincipalDep, tenant: TenantDep) -> EventSeries:
    """The rule measured over one window after another: six before the event, at it, six after (up to now)."""
    return await platform.alerts.series(principal, tenant, event_id)


@router.get("/deliveries", response_model=list[DeliveryOut], summary="The notification delivery log")
def list_deliveries(platform: PlatformDep, principal: PrincipalDep, tenant: TenantDep, event_id: str | None = None,
                    channel_id: str | None = None, limit: Limit = 50) -> list[DeliveryOut]:
    """Every notification sent, newest first: channel, delivered or not, attempts, last status, error."""
    return platform.alert_rules.deliveries(principal, tenant, event_id, channel_id, limit)


@router.post("/evaluate", response_model=EvaluationOut, summary="Evaluate the tenant's rules now")
async def evaluate(platform: PlatformDep, principal: PrincipalDep, tenant: TenantDep) -> EvaluationOut:
    """Measures every enabled rule, records state changes and notifies (the scheduler does this each minute)."""
    return await platform.alerts.evaluate(principal, tenant)


@router.post("/reports/daily", response_model=ReportOut, summary="Send the daily usage report now")
async def send_daily_report(platform: PlatformDep, principal: PrincipalDep, tenant: TenantDep,
                            body: ReportIn | None = None) -> ReportOut:
    """E-mails one day's usage to the channels with `daily_report` on (the scheduler does it each morning)."""
    return await platform.alert_reports.send(principal, tenant, body.day if body else None)
