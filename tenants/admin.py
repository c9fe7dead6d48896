"""Staff admin for the tenants app; every write goes through a tenants service."""

from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import quote
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from tenants.errors import TenantError
from tenants.models import (
    AdminKey,
    ApiKey,
    AuditEvent,
    CloudCredential,
    Plan,
    ProviderConfig,
    Subscription,
    Tenant,
    UsageWindow,
)
from tenants.services.audit import Actor, audit_record
from tenants.services.credentials import credential_delete
from tenants.services.keys import admin_key_issue, api_key_issue, key_revoke
from tenants.services.lifecycle import tenant_reactivate, tenant_status_set, tenant_suspend
from tenants.services.onboarding import onboarding_arguments, tenant_dry_run, tenant_onboard

RECENT_AUDIT_EVENTS = 20
# Encrypted material never leaves the database through the admin, not even to a template.
CREDENTIAL_SECRET_FIELDS = ("ciphertext", "nonce", "wrapped_key")
KEY_METADATA_FIELDS = ("prefix", "name", "created_at", "expires_at", "revoked_at", "last_used_at")


def _actor(request: HttpRequest) -> Actor:
    return Actor(user=request.user, label=request.user.get_username())


class ReadOnlyAdminMixin:
    """Rows that only services write: staff may look, not add, change or delete."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ReadOnlyInline(ReadOnlyAdminMixin, admin.TabularInline):
    extra = 0
    show_change_link = True


# Plans


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = (
        "code",
        "name",
        "runs_per_day",
        "runs_per_month",
        "concurrent_runs",
        "team_members",
        "providers",
        "is_active",
    )
    list_editable = (
        "runs_per_day",
        "runs_per_month",
        "concurrent_runs",
        "team_members",
        "providers",
        "is_active",
    )
    list_filter = ("is_active",)
    search_fields = ("code", "name")

    def has_delete_permission(self, request, obj=None) -> bool:
        # Subscriptions protect their plan; deactivate a plan instead of deleting it.
        return False

    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            audit_record(
                actor=_actor(request),
                action="plan.update" if change else "plan.create",
                target=obj.code,
                details={f: form.cleaned_data[f] for f in form.changed_data},
            )


# Tenants


class SubscriptionInline(ReadOnlyAdminMixin, admin.StackedInline):
    model = Subscription
    fields = (
        "plan",
        "status",
        "stripe_subscription_id",
        "current_period_start",
        "current_period_end",
        "state_as_of",
    )
    readonly_fields = fields


class ApiKeyInline(ReadOnlyInline):
    model = ApiKey
    fields = KEY_METADATA_FIELDS
    readonly_fields = fields


class CloudCredentialInline(ReadOnlyInline):
    model = CloudCredential
    fields = ("provider", "kind", "name", "key_ref", "created_at", "updated_at")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).defer(*CREDENTIAL_SECRET_FIELDS)


class ProviderConfigInline(ReadOnlyInline):
    model = ProviderConfig
    fields = ("provider", "settings", "notification_emails", "credential", "updated_at")
    readonly_fields = fields
    show_change_link = False

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("credential")
            .defer(*(f"credential__{f}" for f in CREDENTIAL_SECRET_FIELDS))
        )


class OnboardForm(forms.Form):
    """Loose on purpose: the dry run reports a bad id or email as a failed check."""

    tenant_id = forms.CharField(max_length=50, help_text="3-50 characters of a-z, 0-9 and _.")
    company_name = forms.CharField(max_length=200, required=False)
    admin_email = forms.CharField(max_length=254)
    plan = forms.ChoiceField()
    status = forms.ChoiceField(
        choices=[(s, s) for s in (Tenant.Status.TRIAL, Tenant.Status.ACTIVE)],
        initial=Tenant.Status.TRIAL,
    )
    force_recreate_dataset = forms.BooleanField(
        required=False, help_text="Drop the tenant's dataset, with all its tables, first."
    )
    force_recreate_tables = forms.BooleanField(
        required=False, help_text="Drop and recreate the run log tables and the view."
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        plans = Plan.objects.filter(is_active=True).values_list("code", "name")
        self.fields["plan"].choices = [(code, f"{code} — {name}") for code, name in plans]


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    change_list_template = "admin/tenants/tenant/change_list.html"
    onboard_template = "admin/tenants/tenant/onboard.html"
    list_display = (
        "id",
        "company_name",
        "admin_email",
        "status",
        "plan",
        "active_keys",
        "created_at",
    )
    list_filter = ("status", ("subscription__plan", admin.RelatedOnlyFieldListFilter), "created_at")
    list_select_related = ("subscription__plan",)
    search_fields = ("id", "company_name", "admin_email")
    date_hierarchy = "created_at"
    fieldsets = (
        (None, {"fields": ("id", "company_name", "admin_email")}),
        ("Status", {"fields": ("status", "status_reason")}),
        ("Systems", {"fields": ("dataset_id", "stripe_customer_id", "created_at", "updated_at")}),
        ("Recent audit events", {"fields": ("recent_audit_events",)}),
        ("Costs and activity", {"fields": ("overview_link",)}),
    )
    readonly_fields = (
        "id",
        "dataset_id",
        "stripe_customer_id",
        "created_at",
        "updated_at",
        "recent_audit_events",
        "overview_link",
    )
    inlines = (SubscriptionInline, ApiKeyInline, CloudCredentialInline, ProviderConfigInline)
    actions = ("suspend_tenants", "reactivate_tenants", "issue_api_keys")

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                active_key_count=Count("api_keys", filter=Q(api_keys__revoked_at__isnull=True))
            )
        )

    def get_urls(self):
        urls = [
            path(
                "onboard/",
                self.admin_site.admin_view(self.onboard_view),
                name="tenants_tenant_onboard",
            ),
        ]
        return urls + super().get_urls()

    @admin.display(description="overview")
    def overview_link(self, obj: Tenant) -> str:
        return format_html(
            '<a href="{}" id="tenant-overview-link">Costs per day, runs and schedules</a>',
            reverse("admin:tenants_tenant_overview", args=[obj.pk]),
        )

    def has_add_permission(self, request, obj=None) -> bool:
        # A tenant only comes into being through onboarding (the onboard view).
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        # Deleting rows would orphan the tenant's dataset; cancel or suspend instead.
        return False

    def has_onboard_permission(self, request) -> bool:
        return request.user.has_perm("tenants.add_tenant")

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_onboard": self.has_onboard_permission(request),
        }
        return super().changelist_view(request, extra_context)

    @admin.display(description="plan", ordering="subscription__plan__code")
    def plan(self, obj: Tenant) -> str:
        try:
            return obj.subscription.plan.code
        except Subscription.DoesNotExist:
            return "—"

    @admin.display(description="active keys", ordering="active_key_count")
    def active_keys(self, obj: Tenant) -> int:
        return obj.active_key_count

    @admin.display(description="last 20 events")
    def recent_audit_events(self, obj: Tenant) -> str:
        events = AuditEvent.objects.filter(tenant_id=obj.pk).select_related("actor")[
            :RECENT_AUDIT_EVENTS
        ]
        if not events:
            return "No audit events."
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    f"{e.created_at:%Y-%m-%d %H:%M:%S}",
                    e.action,
                    e.actor.get_username() if e.actor else e.actor_label,
                    e.user_id,
                    e.target,
                )
                for e in events
            ),
        )
        link = reverse("admin:tenants_auditevent_changelist") + f"?tenant_id={obj.pk}"
        return format_html(
            '<table class="audit-events"><thead><tr><th>When</th><th>Action</th><th>Actor</th>'
            "<th>User id</th><th>Target</th></tr></thead><tbody>{}</tbody></table>"
            '<p><a href="{}">All audit events of this tenant</a></p>',
            rows,
            link,
        )

    def save_model(self, request, obj, form, change):
        """Profile fields are saved and audited here; status goes through the lifecycle service."""
        actor = _actor(request)
        profile = [f for f in form.changed_data if f in ("company_name", "admin_email")]
        with transaction.atomic():
            if profile:
                obj.save(update_fields=[*profile, "updated_at"])
                audit_record(
                    actor=actor,
                    action="tenant.update",
                    tenant_id=obj.pk,
                    target=obj.pk,
                    details={"fields": profile},
                )
            if {"status", "status_reason"} & set(form.changed_data):
                # The service records the previous status, so it gets the stored row.
                current = Tenant.objects.get(pk=obj.pk)
                tenant_status_set(
                    tenant=current, status=obj.status, actor=actor, reason=obj.status_reason
                )

    @admin.action(description="Suspend selected tenants", permissions=["change"])
    def suspend_tenants(self, request, queryset):
        actor = _actor(request)
        for tenant in queryset:
            tenant_suspend(tenant=tenant, actor=actor)
        self.message_user(request, f"Suspended {len(queryset)} tenant(s).", messages.SUCCESS)

    @admin.action(description="Reactivate selected tenants", permissions=["change"])
    def reactivate_tenants(self, request, queryset):
        actor = _actor(request)
        for tenant in queryset:
            tenant_reactivate(tenant=tenant, actor=actor)
        self.message_user(request, f"Reactivated {len(queryset)} tenant(s).", messages.SUCCESS)

    @admin.action(description="Issue an API key for each selected tenant", permissions=["change"])
    def issue_api_keys(self, request, queryset):
        actor = _actor(request)
        for tenant in queryset:
            issued = api_key_issue(tenant=tenant, actor=actor, name="admin")
            messages.success(
                request,
                f"New API key for {tenant.pk} (shown only this once, copy it now): "
                f"{issued.plaintext}",
            )

    def onboard_view(self, request):
        """Dry run or onboard a tenant from a form; errors show on the form, never as a 500."""
        if not self.has_onboard_permission(request):
            raise PermissionDenied
        report = None
        form = OnboardForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            if "_onboard" in request.POST:
                try:
                    onboarded = tenant_onboard(**onboarding_arguments(data), actor=_actor(request))
                except TenantError as exc:
                    form.add_error(exc.field if exc.field in form.fields else None, str(exc))
                else:
                    messages.success(
                        request,
                        f"Tenant {onboarded.tenant.pk} onboarded with dataset "
                        f"{onboarded.dataset_id}. Its API key, shown only this once: "
                        f"{onboarded.api_key}",
                    )
                    return HttpResponseRedirect(
                        reverse("admin:tenants_tenant_change", args=[quote(onboarded.tenant.pk)])
                    )
            else:
                report = tenant_dry_run(**onboarding_arguments(data))
        context = {
            **self.admin_site.each_context(request),
            "title": "Onboard tenant",
            "opts": self.opts,
            "form": form,
            "report": report,
        }
        return TemplateResponse(request, self.onboard_template, context)


# Keys


class RevokedFilter(admin.SimpleListFilter):
    title = "revoked"
    parameter_name = "revoked"

    def lookups(self, request, model_admin):
        return (("yes", "Revoked"), ("no", "Not revoked"))

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(revoked_at__isnull=self.value() == "no")
        return queryset


class ExpiredFilter(admin.SimpleListFilter):
    title = "expired"
    parameter_name = "expired"

    def lookups(self, request, model_admin):
        return (("yes", "Expired"), ("no", "Not expired"))

    def queryset(self, request, queryset):
        expired = Q(expires_at__lte=timezone.now())
        if self.value() == "yes":
            return queryset.filter(expired)
        if self.value() == "no":
            return queryset.exclude(expired)
        return queryset


class KeyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Key metadata only; the hash is never rendered, revocation goes through key_revoke."""

    list_filter = (RevokedFilter, ExpiredFilter, "created_at")
    exclude = ("key_hash",)
    actions = ("revoke_keys",)

    def has_revoke_permission(self, request) -> bool:
        return request.user.has_perm(f"tenants.change_{self.opts.model_name}")

    @admin.action(description="Revoke selected keys", permissions=["revoke"])
    def revoke_keys(self, request, queryset):
        actor = _actor(request)
        for key in queryset:
            key_revoke(key=key, actor=actor)
        self.message_user(request, f"Revoked {len(queryset)} key(s).", messages.SUCCESS)


@admin.register(ApiKey)
class ApiKeyAdmin(KeyAdmin):
    list_display = ("prefix", "name", "tenant", *KEY_METADATA_FIELDS[2:])
    list_select_related = ("tenant",)
    search_fields = ("prefix", "name", "tenant__id")
    fields = ("tenant", *KEY_METADATA_FIELDS)


class AdminKeyIssueForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What the key is for, e.g. 'nightly cron'.")
    expires_days = forms.IntegerField(
        min_value=1, required=False, help_text="Leave empty for a key that does not expire."
    )


@admin.register(AdminKey)
class AdminKeyAdmin(KeyAdmin):
    change_list_template = "admin/tenants/adminkey/change_list.html"
    issue_template = "admin/tenants/adminkey/issue.html"
    list_display = ("prefix", "name", "created_by", *KEY_METADATA_FIELDS[2:])
    list_select_related = ("created_by",)
    search_fields = ("prefix", "name")
    fields = ("created_by", *KEY_METADATA_FIELDS)

    def get_urls(self):
        urls = [
            path(
                "issue/",
                self.admin_site.admin_view(self.issue_view),
                name="tenants_adminkey_issue",
            )
        ]
        return urls + super().get_urls()

    def has_issue_permission(self, request) -> bool:
        return request.user.has_perm("tenants.add_adminkey")

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_issue": self.has_issue_permission(request)}
        return super().changelist_view(request, extra_context)

    def issue_view(self, request):
        """Mint an X-Admin-Key; its plaintext appears once, in the success message."""
        if not self.has_issue_permission(request):
            raise PermissionDenied
        form = AdminKeyIssueForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            days = form.cleaned_data["expires_days"]
            issued = admin_key_issue(
                actor=_actor(request),
                name=form.cleaned_data["name"],
                expires_at=timezone.now() + timedelta(days=days) if days else None,
            )
            messages.success(
                request,
                f"New admin key {issued.record.prefix}… (shown only this once, copy it now): "
                f"{issued.plaintext}",
            )
            return HttpResponseRedirect(reverse("admin:tenants_adminkey_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": "Issue admin key",
            "opts": self.opts,
            "form": form,
        }
        return TemplateResponse(request, self.issue_template, context)


# Credentials, usage, audit


@admin.register(CloudCredential)
class CloudCredentialAdmin(admin.ModelAdmin):
    """Metadata only: the encrypted fields are never queried for display nor rendered."""

    list_display = ("tenant", "provider", "kind", "name", "key_ref", "created_at", "updated_at")
    list_filter = ("provider", "kind", "created_at")
    list_select_related = ("tenant",)
    search_fields = ("tenant__id", "name", "key_ref")
    fields = ("tenant", "provider", "kind", "name", "key_ref", "created_at", "updated_at")
    readonly_fields = fields
    exclude = CREDENTIAL_SECRET_FIELDS

    def get_queryset(self, request):
        return super().get_queryset(request).defer(*CREDENTIAL_SECRET_FIELDS)

    def has_add_permission(self, request, obj=None) -> bool:
        # Credentials arrive encrypted through the API, never typed into the admin.
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def delete_model(self, request, obj):
        credential_delete(credential=obj, actor=_actor(request))

    def delete_queryset(self, request, queryset):
        actor = _actor(request)
        for credential in queryset:
            credential_delete(credential=credential, actor=actor)


@admin.register(UsageWindow)
class UsageWindowAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("tenant", "kind", "starts_at", "ends_at", "runs_used")
    list_filter = ("kind", "starts_at")
    list_select_related = ("tenant",)
    search_fields = ("tenant__id",)
    date_hierarchy = "starts_at"


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "tenant_id", "action", "actor_display", "user_id", "target")
    list_filter = ("action", "created_at")
    list_select_related = ("actor",)
    search_fields = ("tenant_id", "action", "target")
    date_hierarchy = "created_at"

    @admin.display(description="actor", ordering="actor_label")
    def actor_display(self, obj: AuditEvent) -> str:
        if obj.actor is not None:
            return obj.actor.get_username()
        return obj.actor_label
