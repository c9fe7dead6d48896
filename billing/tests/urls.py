"""The billing URLs mounted as the root urls will mount them, for tests of the webhook."""

from django.urls import include, path

urlpatterns = [path("api/v1/", include("billing.urls"))]
