import json

from django import template

from status import queries

register = template.Library()


@register.filter
def kwh(wh) -> str:
    return "–" if wh is None else f"{wh / 1000:,.2f} kWh"


@register.filter
def kw(w) -> str:
    return "–" if w is None else f"{w / 1000:,.1f} kW"


@register.filter
def state_class(status: str) -> str:
    """The CSS class that colours a connector status (status.css): one palette for pages and admin."""
    return f"st st-{status or 'unknown'}"


@register.inclusion_tag("status/_dashboard_tiles.html")
def dashboard_tiles():
    return {"dashboard": queries.dashboard()}


@register.filter
def as_json(value) -> str:
    return "–" if value is None else json.dumps(value, ensure_ascii=False)
