from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class DashboardConfig(AppConfig):
    default = True
    name = "dashboard"
    verbose_name = "Staff dashboard"


class DashboardAdminConfig(admin_apps.AdminConfig):
    """``django.contrib.admin`` with the dashboard's site as ``admin.site`` (it stands in
    INSTALLED_APPS in the admin's place)."""

    default = False
    default_site = "dashboard.sites.DashboardAdminSite"
