"""Tenants, plans, subscriptions, API keys, cloud credentials, usage and audit."""
