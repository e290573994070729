"""An id tag created, blocked or deleted through the REST API is in the box's very next Authorize
answer (chargers.services.idtag_authorize reads the table each time: no cache to wait for)."""

import io

from django.core.management import call_command
from django.test import Client


def test_authorize_follows_the_api_at_once(cp, transactional_db):
    out = io.StringIO()
    call_command("apitoken", "integrator", stdout=out)
    api = Client(HTTP_AUTHORIZATION=f"Token {out.getvalue().strip()}")
    assert cp.call("Authorize", {"idTag": "API-TAG"})["idTagInfo"]["status"] == "Invalid"

    assert api.post("/api/v1/idtags", {"idTag": "API-TAG"}, content_type="application/json").status_code == 201
    assert cp.call("Authorize", {"idTag": "API-TAG"})["idTagInfo"]["status"] == "Accepted"

    assert api.post("/api/v1/idtags/API-TAG/block").status_code == 200
    assert cp.call("Authorize", {"idTag": "API-TAG"})["idTagInfo"]["status"] == "Blocked"

    imported = api.post("/api/v1/idtag-imports", "id_tag,status\nAPI-TAG,Accepted\n", content_type="text/csv")
    assert imported.json() == {"created": 0, "updated": 1}
    assert cp.call("Authorize", {"idTag": "API-TAG"})["idTagInfo"]["status"] == "Accepted"

    assert api.delete("/api/v1/idtags/API-TAG").status_code == 204
    assert cp.call("Authorize", {"idTag": "API-TAG"})["idTagInfo"]["status"] == "Invalid"
