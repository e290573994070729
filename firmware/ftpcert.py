"""The FTP server's TLS certificate: the configured one (FTP_TLS_CERT, FTP_TLS_KEY), else a
self-signed one made under FTP_TLS_DIR on the first start and kept (DESIGN.md §3)."""

from __future__ import annotations

import ipaddress
import logging
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

log = logging.getLogger(__name__)

CERT_NAME, KEY_NAME = "cert.pem", "key.pem"
VALID_DAYS = 3650  # a box cannot be asked to trust a new one every year


def tls_files() -> tuple[Path, Path]:
    """(certificate, private key) for the FTP server's AUTH TLS."""
    if settings.FTP_TLS_CERT or settings.FTP_TLS_KEY:
        cert, key = Path(settings.FTP_TLS_CERT or settings.FTP_TLS_KEY), Path(settings.FTP_TLS_KEY or settings.FTP_TLS_CERT)
        for name, path in (("FTP_TLS_CERT", cert), ("FTP_TLS_KEY", key)):
            if not path.is_file():
                raise ImproperlyConfigured(f"{name}: {path} is not a readable file")
        return cert, key
    return self_signed_certificate(Path(settings.FTP_TLS_DIR), certificate_hosts())


def certificate_hosts() -> list[str]:
    """The names a box may reach the server by: the URLs' host first, then the local ones."""
    hosts = [settings.FTP_PUBLIC_HOST, settings.FTP_HOST, "localhost", "127.0.0.1", "::1"]
    unspecified = {"", "0.0.0.0", "::"}
    return list(dict.fromkeys(host for host in hosts if host not in unspecified))


def self_signed_certificate(directory: Path, hosts: list[str]) -> tuple[Path, Path]:
    """``directory``/cert.pem and key.pem, made if either is missing."""
    cert, key = directory / CERT_NAME, directory / KEY_NAME
    if cert.is_file() and key.is_file():
        return cert, key
    directory.mkdir(parents=True, exist_ok=True)
    # RSA, not EC: the TLS stacks of older boxes' firmware updaters often know nothing else.
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0]),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "EVCHONG central system (self-signed)")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name)
        .public_key(private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))  # clocks of boxes run behind
        .not_valid_after(now + timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName([_general_name(host) for host in hosts]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=True, content_commitment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(private_key.public_key()), critical=False)
        .sign(private_key, hashes.SHA256())
    )
    key_bytes = private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption())
    _write(key, key_bytes, mode=0o600)
    _write(cert, certificate.public_bytes(serialization.Encoding.PEM), mode=0o644)
    log.info("made a self-signed certificate for %s: %s (set FTP_TLS_CERT and FTP_TLS_KEY to use your own)",
             ", ".join(hosts), cert)
    return cert, key


def _general_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _write(path: Path, content: bytes, mode: int) -> None:
    # Written aside and renamed: a server killed half-way leaves no half a key to fail on next time.
    partial = path.with_suffix(".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as file:
        file.write(content)
    os.replace(partial, path)
