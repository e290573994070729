from tests_security_kit import limited_server  # noqa: F401  (the fixture, for this folder)
