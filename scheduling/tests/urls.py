"""URLs for the scheduling API tests until scheduling.urls is mounted in the root URL conf."""

from django.urls import include, path

urlpatterns = [
    path("api/v1/", include("tenants.urls")),
    path("api/v1/", include("scheduling.urls")),
]
