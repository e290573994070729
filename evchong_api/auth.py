import base64
import binascii

from chargers.models import ChargeBox
from evchong_api.errors import BoxAuthenticationFailed


def check_box_credentials(request, box: ChargeBox) -> None:
    """HTTP Basic with username = chargeBoxSerialNumber, for boxes that have a password (the same
    credential as OCPP security profile 1)."""
    if not box.requires_auth:
        return
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise BoxAuthenticationFailed("this charge box must authenticate with HTTP Basic")
    try:
        username, _, password = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise BoxAuthenticationFailed("malformed Basic credentials") from None
    if username != box.serial or not box.check_password(password):
        raise BoxAuthenticationFailed("wrong username or password for this charge box")
