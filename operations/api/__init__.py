"""The REST API's lists and edits for integrators (issue 24): sessions, id tags, stations,
reservations, alarms and boxes, under /api/v1 beside the read and command endpoints of DESIGN.md §3,
with the same token, pagination ({"results", "next"}) and error forms. Views only: every rule they
apply lives in the domain apps or in operations.idtag_import."""
