"""A box's password costs the full PBKDF2 check once; after that its row remembers the success as a
verifier (chargers.credentials), in every process and across restarts, until the password changes."""

import pytest
from django.contrib.auth.hashers import make_password

from chargers import credentials
from chargers.models import ChargeBox


@pytest.fixture
def slow_checks(monkeypatch):
    """Counts the PBKDF2 checks against the stored hash."""
    calls = []
    real = credentials.check_password

    def counted(raw, hashed):
        calls.append(raw)
        return real(raw, hashed)

    monkeypatch.setattr(credentials, "check_password", counted)
    monkeypatch.setattr(credentials, "_refused", set())
    return calls


@pytest.mark.django_db
def test_a_password_set_is_checked_without_pbkdf2(make_box, slow_checks):
    box = make_box("CR-1", password="key-0123456789abcdef")
    fresh = ChargeBox.objects.get(pk=box.pk)  # as another process, or one just restarted, reads it
    assert fresh.check_password("key-0123456789abcdef")
    assert slow_checks == []
    assert not fresh.check_password("key-0123456789abcdeX")
    assert slow_checks == ["key-0123456789abcdeX"]  # a wrong password gets the full check


@pytest.mark.django_db
def test_a_wrong_password_repeated_costs_one_full_check_until_the_password_changes(make_box, slow_checks):
    box = make_box("CR-6", password="right-password-16")
    for _ in range(5):  # a box left with a stale password, retrying
        assert not ChargeBox.objects.get(pk=box.pk).check_password("stale-password-16")
    assert slow_checks == ["stale-password-16"]
    box.set_password("stale-password-16")  # the operator gives in: the new hash is checked afresh
    box.save()
    assert ChargeBox.objects.get(pk=box.pk).check_password("stale-password-16")


@pytest.mark.django_db
def test_a_box_stored_before_verifiers_pays_once_and_its_row_remembers(make_box, slow_checks):
    box = make_box("CR-2")
    ChargeBox.objects.filter(pk=box.pk).update(password_hash=make_password("old-style-secret"))
    assert ChargeBox.objects.get(pk=box.pk).check_password("old-style-secret")
    assert ChargeBox.objects.get(pk=box.pk).check_password("old-style-secret")
    assert slow_checks == ["old-style-secret"]
    assert ChargeBox.objects.get(pk=box.pk).credential_verifier


@pytest.mark.django_db
def test_a_new_password_ends_the_old_one(make_box):
    box = make_box("CR-3", password="first-password-16")
    stale = ChargeBox.objects.get(pk=box.pk)
    assert stale.check_password("first-password-16")
    box.set_password("second-password-16")
    box.save()
    fresh = ChargeBox.objects.get(pk=box.pk)
    assert not fresh.check_password("first-password-16")
    assert fresh.check_password("second-password-16")
    # A process that checked the old password before the change does not write its verifier back.
    stale.password_hash = make_password("first-password-16")
    stale.check_password("first-password-16")
    assert ChargeBox.objects.get(pk=box.pk).check_password("second-password-16")
    assert not ChargeBox.objects.get(pk=box.pk).check_password("first-password-16")


@pytest.mark.django_db
def test_a_rotated_secret_key_still_knows_its_boxes(make_box, settings, slow_checks):
    box = make_box("CR-4", password="rotate-me-please-16")
    old_key = settings.SECRET_KEY
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "a-new-key-" + "x" * 50, [old_key]
    assert ChargeBox.objects.get(pk=box.pk).check_password("rotate-me-please-16")
    assert slow_checks == []  # the old key still vouches, and the row is remembered under the new one
    settings.SECRET_KEY_FALLBACKS = []
    assert ChargeBox.objects.get(pk=box.pk).check_password("rotate-me-please-16")
    assert slow_checks == []
    settings.SECRET_KEY = "another-key-" + "y" * 50  # retired without a fallback: one full check
    assert ChargeBox.objects.get(pk=box.pk).check_password("rotate-me-please-16")
    assert ChargeBox.objects.get(pk=box.pk).check_password("rotate-me-please-16")
    assert slow_checks == ["rotate-me-please-16"]


@pytest.mark.django_db
def test_a_box_without_password_matches_nothing(make_box):
    box = make_box("CR-5")
    assert not box.requires_auth
    assert not ChargeBox.objects.get(pk=box.pk).check_password("")
