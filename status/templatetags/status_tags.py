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


@register.filter
def readable_json(text: str) -> str:
    """A journaled frame laid out to be read: Kotodian frames are binary APDUs, journaled as the JSON
    of their decoding (kotodian.edge), one long line; the other protocols' frames are their own
    text, shown as they came. Text that is no JSON (a frame that did not parse) stays as it is."""
    try:
        return json.dumps(json.loads(text), ensure_ascii=False, indent=2)
    except ValueError:
        return text
