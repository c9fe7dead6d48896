"""Errors of the billing services."""


class BillingError(Exception):
    """An event cannot be applied as it stands; staff fix the cause and reprocess it."""
