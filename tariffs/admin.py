"""The tariff editor: a tariff with its periods inline, checked as the CLI and the API check them
(tariffs.periods), and the day drawn as a bar of coloured periods. Also how a session's cost is
shown beside its charts (transactions.admin)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django import forms
from django.contrib import admin
from django.db import models
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from core.errors import DomainError
from tariffs.models import SessionCost, Tariff, TariffPeriod
from tariffs.periods import DAY_MINUTES, Period, clock, periods_check
from tariffs.services import tariff_changed_after_commit, tariff_claims_take


class PeriodFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        if any(self.errors):
            return
        periods = []
        for form in self.forms:
            data = getattr(form, "cleaned_data", None)
            if not data or data.get("DELETE"):
                continue
            for name in ("start", "end"):
                if data[name].second or data[name].microsecond:
                    raise forms.ValidationError(f"periods: {name} {data[name]} is not a whole minute")
            periods.append(Period(data["start"].hour * 60 + data["start"].minute,
                                  data["end"].hour * 60 + data["end"].minute,
                                  data["energy_price"], data["service_price"]))
        try:
            periods_check(periods)
        except DomainError as exc:
            raise forms.ValidationError(f"periods: {exc.message}") from None


class PeriodInline(admin.TabularInline):
    model = TariffPeriod
    formset = PeriodFormSet
    extra = 1
    fields = ["start", "end", "energy_price", "service_price"]
    formfield_overrides = {models.TimeField: {"widget": forms.TimeInput(format="%H:%M")}}


def price_colour(price: Decimal, cheapest: Decimal, dearest: Decimal) -> str:
    """Green for the cheapest period, red for the dearest, through yellow."""
    share = float((price - cheapest) / (dearest - cheapest)) if dearest > cheapest else 0.0
    return f"hsl({round(120 * (1 - share))}, 65%, 50%)"


def day_bar(periods: list[Period], currency: str = "") -> str:
    """The 24 hours as a bar of coloured periods (a wrapped period is drawn at both ends)."""
    if not periods:
        return ""
    totals = [p.energy_price + p.service_price for p in periods]
    cheapest, dearest = min(totals), max(totals)
    pieces = []
    for period, total in zip(periods, totals):
        end = period.start + period.minutes
        spans = [(period.start, end)] if end <= DAY_MINUTES else [(period.start, DAY_MINUTES), (0, end - DAY_MINUTES)]
        title = (f"{period.label}: {period.energy_price} + {period.service_price} = {total} {currency}/kWh").strip()
        for begin, finish in spans:
            pieces.append((begin, f"{begin * 100 / DAY_MINUTES:.3f}", f"{(finish - begin) * 100 / DAY_MINUTES:.3f}",
                           price_colour(total, cheapest, dearest), title, clock(begin)))
    bar = format_html_join(
        "", '<span class="tariff-period" style="left:{}%;width:{}%;background:{}" title="{}">{}</span>',
        (piece[1:] for piece in sorted(pieces)),
    )
    return format_html('<div class="tariff-day" role="img" aria-label="tariff periods over 24 hours">{}</div>'
                       '<div class="tariff-hours"><span>00:00</span><span>06:00</span><span>12:00</span>'
                       '<span>18:00</span><span>24:00</span></div>', bar)


@admin.register(Tariff)
class TariffAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "currency", "valid_from", "is_default", "station_codes", "day"]
    list_filter = ["is_default", "currency"]
    search_fields = ["code", "name", "stations__code"]
    filter_horizontal = ["stations"]
    inlines = [PeriodInline]

    class Media:
        css = {"all": ["tariffs/tariffs.css"]}

    readonly_fields = ["day", "created", "updated"]
    fieldsets = [
        (None, {"fields": ["code", "name", "currency", "valid_from"]}),
        ("Periods (local time)", {"fields": ["day"]}),
        ("Where", {"fields": ["is_default", "stations"]}),
        ("Idle fee", {"fields": ["idle_fee_per_hour", "idle_grace_minutes"]}),
        ("History", {"fields": ["created", "updated"]}),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("periods", "stations")

    @admin.display(description="stations")
    def station_codes(self, tariff):
        return ", ".join(sorted(s.code for s in tariff.stations.all())) or "–"

    @admin.display(description="the day")
    def day(self, tariff):
        if tariff.pk is None:
            return "drawn once saved"
        return day_bar(sorted(tariff.period_values(), key=lambda p: p.start), tariff.currency)

    def save_related(self, request, form, formsets, change):
        # The stations as they were: the form's new ones are written by super().save_related.
        stations_before = set(Tariff.stations.through.objects.filter(tariff=form.instance)
                              .values_list("station_id", flat=True)) if change else set()
        super().save_related(request, form, formsets, change)
        tariff_claims_take(tariff=form.instance)
        tariff_changed_after_commit(tariff=form.instance, stations_before=stations_before,
                                    was_default=bool(form.initial.get("is_default")))


def _span(start: str, end: str) -> str:
    """'04-01 21:00 – 22:00', or with both dates when the line crosses midnight (local time)."""
    begin, finish = (timezone.localtime(datetime.fromisoformat(text)) for text in (start, end))
    return f"{begin:%m-%d %H:%M} – {finish:%H:%M}" if begin.date() == finish.date() else \
        f"{begin:%m-%d %H:%M} – {finish:%m-%d %H:%M}"


def session_cost_html(cost: SessionCost | None) -> str:
    """A session's cost lines, for its admin page."""
    if cost is None:
        return format_html('<p class="session-cost-box">{}</p>',
                           "no cost: no tariff applied, or the session is running")
    rows = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{} + {}</td><td>{}</td><td>{}</td></tr>", (
        (_span(line["from"], line["to"]), f"{line['energyWh']:,}", line["energyPrice"],
         line["servicePrice"], line["energyCost"], line["serviceCost"])
        for line in cost.lines
    ))
    flags = format_html_join("", '<li class="error">{}</li>', ((label,) for label in cost.flag_labels))
    return format_html(
        '<div class="session-cost-box"><table class="session-cost"><thead><tr><th>local time</th><th>Wh</th>'
        "<th>per kWh</th><th>energy</th><th>service</th></tr></thead><tbody>{}</tbody>"
        '<tfoot><tr><td colspan="3">energy {} + service {} + idle {}</td><td colspan="2"><strong>{} {}</strong>'
        "</td></tr></tfoot></table><p>tariff {}{}</p><ul>{}</ul></div>",
        rows, cost.energy, cost.service, cost.idle, cost.total, cost.currency, cost.tariff_code,
        "" if cost.box_reported is None else f"; the box reported {cost.box_reported} {cost.currency}", flags,
    )
