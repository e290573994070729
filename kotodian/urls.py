from django.urls import path

from kotodian import views

urlpatterns = [
    path("go-auth/user", views.go_auth_user, name="mqtt-go-auth-user"),
    path("go-auth/superuser", views.go_auth_superuser, name="mqtt-go-auth-superuser"),
    path("go-auth/acl", views.go_auth_acl, name="mqtt-go-auth-acl"),
    path("emqx/authn", views.emqx_authn, name="mqtt-emqx-authn"),
    path("emqx/authz", views.emqx_authz, name="mqtt-emqx-authz"),
]
