"""How the OpenAPI schema (drf-spectacular) describes the token authentication."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "security.authentication.ApiTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": "`Token <token>`: from `manage.py apitoken USERNAME` or the admin (API tokens); "
                               "each token has scopes (reverse, operations, read) and may expire."}
