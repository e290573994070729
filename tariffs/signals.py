from django.dispatch import Signal

# Sent after the commit that created, replaced or reassigned a tariff (tariffs.services.tariff_save),
# with ``station_ids``: the stations whose tariff may have changed (the tariff's, before and after),
# and ``default``: whether the default tariff may have changed (so boxes of stations without one).
# Edges that keep a copy of the tariff in the box (kotodian.tariffs) send it the new one.
tariff_changed = Signal()
