"""The local walk-through's Azure step: export runs put into a real Azurite by the command are
read back by the Azure exports layout as Cost Management's own would be."""

import uuid

import pytest
from django.core.management import CommandError, call_command

from connectors.layouts.azure import AzureExportsLayout
from devtools.azurite import ACCOUNT_KEY
from devtools.emulator import free_port
from warehouse.azure_blob import azure_blob_store


def test_two_months_actual_and_amortized_are_put_and_found(azure_blob_endpoint, settings, capsys):
    """Two months of actual and amortized runs, three parts each: four deliveries, and the
    command says where the export is."""
    settings.AZURE_BLOB_ENDPOINT = azure_blob_endpoint.rsplit("/", 1)[0]
    container = f"exports-{uuid.uuid4().hex[:8]}"

    call_command(
        "export_sample_put_azure", "--months", "2024-01", "2024-02", "--container", container
    )

    out = capsys.readouterr().out
    assert f"container {container!r}, prefix 'costs/'" in out
    store = azure_blob_store(
        account_url=azure_blob_endpoint, container=container, account_key=ACCOUNT_KEY
    )
    deliveries = AzureExportsLayout().deliveries(store, "costs/", known_periods={})
    assert [(d.period.isoformat(), d.kind, len(d.parts)) for d in deliveries] == [
        ("2024-01-01", "ActualCost", 3),
        ("2024-01-01", "AmortizedCost", 3),
        ("2024-02-01", "ActualCost", 3),
        ("2024-02-01", "AmortizedCost", 3),
    ]
    # The rows were moved into their month.
    assert b",2/2/2024," in store.read(deliveries[2].parts[0].key)


def test_without_azurite_the_command_says_so(settings):
    """Nothing listening at AZURE_BLOB_ENDPOINT: a one-line error naming it, no traceback."""
    settings.AZURE_BLOB_ENDPOINT = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(CommandError, match="did not take the export"):
        call_command("export_sample_put_azure", "--months", "2024-01")
