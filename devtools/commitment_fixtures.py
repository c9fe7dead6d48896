"""Commitment-discount fixtures derived from the shipped samples, deterministic.

AWS (from ``aws_cur_sample.csv``): the CUR gains the columns ``reservation/ReservationARN``;
20 usage rows with a cost become ``DiscountedUsage`` of one reservation (UnblendedCost 0,
``reservation/EffectiveCost`` 60 % of their on-demand cost); an ``RIFee`` row bills the
month's recurring fee with an unused part, and a ``Fee`` row its upfront payment; the next
20 such rows become ``SavingsPlanCoveredUsage`` of one Savings Plan (on-demand cost kept,
``SavingsPlanEffectiveCost`` 70 % of it), each with its ``SavingsPlanNegation``, and a
``SavingsPlanRecurringFee`` row bills the commitment, part of it unused. Every row gets
``bill/InvoiceId`` (the fixture is an invoiced month).

Azure (from ``azure_ea_sample.csv``): three Virtual Machines rows become reservation-covered
usage (cost 0, amortized price in EffectivePrice), one more savings-plan-covered; an
``UnusedReservation`` and an ``UnusedSavingsPlan`` row and a one-time reservation and a
recurring savings-plan ``Purchase`` row are added.

Azure MCA (``azure_mca_export``): the Azure fixture's rows under the column names of a
Microsoft Customer Agreement cost-details export (camelCase; ``billingCurrency``,
``pricingCurrency``, ``resourceGroupName``, ``ProductId`` for EA's names), EA-only columns
(``AccountName``, ``AccountOwnerId``, ``OfferId``, ``PartNumber``) dropped, an ``invoiceId``
on every row (an invoiced month) and ``exchangeRatePricingToBilling`` 1 (an account priced
and billed in one currency). Its totals are the Azure fixture's.

``expected_totals`` computes, from the CSV alone, the invoice total (BilledCost) and the
amortized total (EffectiveCost) by the providers' documented rules.
"""

from __future__ import annotations

import csv
import decimal
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "pipelines" / "tests" / "data"  # the shipped samples
D = decimal.Decimal
RI_ARN = "arn:aws:ec2:ca-central-1:123412340534:reserved-instances/fixture-ri-0001"
SP_ARN = "arn:aws:savingsplans::123412340534:savingsplan/fixture-sp-0001"
AZ_RI = "/providers/Microsoft.Capacity/reservationOrders/fixture-order/reservations/fixture-ri"
AZ_SP = "/providers/Microsoft.BillingBenefits/savingsPlanOrders/fixture/savingsPlans/fixture-sp"


def _read(name: str) -> tuple[list[str], list[dict]]:
    return _read_path(DATA / name)


def _read_path(path: Path) -> tuple[list[str], list[dict]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def _write(path: Path, header: list[str], rows: list[dict]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header, lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: row.get(k, "") for k in header} for row in rows)
    return path


def _amount(value) -> str:
    return format(D(value).quantize(D("0.0000000001")).normalize(), "f")


def aws_commitment_cur(path: Path) -> Path:
    header, rows = _read("aws_cur_sample.csv")
    header = [*header, "reservation/ReservationARN"]
    for row in rows:
        row["bill/InvoiceId"] = "FIXTURE-INV-2023-11"
    priced = [
        r
        for r in rows
        if r["lineItem/LineItemType"] == "Usage" and D(r["lineItem/UnblendedCost"]) > 0
    ]
    ri_rows, sp_rows = priced[:20], priced[20:40]
    template = ri_rows[0]
    ri_used = D(0)
    for row in ri_rows:
        effective = D(row["lineItem/UnblendedCost"]) * D("0.6")
        ri_used += D(_amount(effective))
        row.update(
            {
                "lineItem/LineItemType": "DiscountedUsage",
                "reservation/ReservationARN": RI_ARN,
                "reservation/EffectiveCost": _amount(effective),
                "lineItem/UnblendedCost": "0",
                "lineItem/UnblendedRate": "0",
            }
        )
    base = {k: template[k] for k in header if k.startswith(("bill/", "identity/TimeInterval"))}
    common = {
        **base,
        "lineItem/UsageAccountId": template["lineItem/UsageAccountId"],
        "lineItem/ProductCode": template["lineItem/ProductCode"],
        "lineItem/CurrencyCode": "USD",
        "lineItem/UsageStartDate": "2023-11-01T00:00:00.000Z",
        "lineItem/UsageEndDate": "2023-12-01T00:00:00.000Z",
        "lineItem/LegalEntity": template["lineItem/LegalEntity"],
        "product/ProductName": template["product/ProductName"],
        "product/servicecode": template["product/servicecode"],
        "product/servicename": template["product/servicename"],
        "product/region": template["product/region"],
        "product/regionCode": template["product/regionCode"],
        "product/location": template["product/location"],
        "product/sku": template["product/sku"],
        "pricing/RateCode": template["pricing/RateCode"],
        "pricing/currency": "USD",
    }
    recurring, unused_recurring, unused_upfront = ri_used + D("0.05"), D("0.05"), D("0.01")
    rows.append(
        {
            **common,
            "identity/LineItemId": "fixture-rifee",
            "lineItem/LineItemType": "RIFee",
            "lineItem/UsageType": "CAN1-HeavyUsage:fixture",
            "lineItem/LineItemDescription": "Reserved instance monthly fee (fixture)",
            "lineItem/UsageAmount": "720",
            "lineItem/UnblendedRate": _amount(recurring / 720),
            "lineItem/UnblendedCost": _amount(recurring),
            "pricing/publicOnDemandRate": _amount(recurring / 720),
            "pricing/unit": "Hrs",
            "reservation/ReservationARN": RI_ARN,
            "reservation/UnusedRecurringFee": _amount(unused_recurring),
            "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod": _amount(unused_upfront),
            "reservation/UnusedQuantity": "2",
            "reservation/TotalReservedUnits": "720",
        }
    )
    rows.append(
        {
            **common,
            "identity/LineItemId": "fixture-ri-upfront",
            "lineItem/LineItemType": "Fee",
            "lineItem/UsageType": "CAN1-HeavyUsage:fixture",
            "lineItem/LineItemDescription": "Reserved instance upfront fee (fixture)",
            "lineItem/UsageAmount": "1",
            "lineItem/UnblendedRate": "1.25",
            "lineItem/UnblendedCost": "1.25",
            "pricing/publicOnDemandRate": "1.25",
            "pricing/unit": "Hrs",
            "reservation/ReservationARN": RI_ARN,
            "reservation/TotalReservedUnits": "8760",
        }
    )
    sp_used = D(0)
    negations = []
    for index, row in enumerate(sp_rows):
        effective = D(_amount(D(row["lineItem/UnblendedCost"]) * D("0.7")))
        sp_used += effective
        row.update(
            {
                "lineItem/LineItemType": "SavingsPlanCoveredUsage",
                "savingsPlan/SavingsPlanARN": SP_ARN,
                "savingsPlan/SavingsPlanEffectiveCost": _amount(effective),
                "savingsPlan/SavingsPlanRate": row["lineItem/UnblendedRate"],
            }
        )
        negations.append(
            {
                **row,
                "identity/LineItemId": f"fixture-negation-{index}",
                "lineItem/LineItemType": "SavingsPlanNegation",
                "lineItem/UnblendedCost": _amount(-D(row["lineItem/UnblendedCost"])),
                "savingsPlan/SavingsPlanEffectiveCost": "",
            }
        )
    commitment = sp_used + D("0.02")
    rows.extend(negations)
    rows.append(
        {
            **common,
            "identity/LineItemId": "fixture-sp-fee",
            "lineItem/LineItemType": "SavingsPlanRecurringFee",
            "lineItem/UsageType": "ComputeSP:1yrNoUpfront",
            "lineItem/LineItemDescription": "Savings Plan hourly commitment (fixture)",
            "lineItem/UsageAmount": "1",
            "lineItem/UnblendedRate": _amount(commitment),
            "lineItem/UnblendedCost": _amount(commitment),
            "pricing/publicOnDemandRate": _amount(commitment),
            "pricing/unit": "Hrs",
            "savingsPlan/SavingsPlanARN": SP_ARN,
            "savingsPlan/TotalCommitmentToDate": _amount(commitment),
            "savingsPlan/UsedCommitment": _amount(sp_used),
        }
    )
    return _write(path, header, rows)


def azure_commitment_export(path: Path) -> Path:
    header, rows = _read("azure_ea_sample.csv")
    vms = [r for r in rows if r["MeterCategory"] == "Virtual Machines"][:4]
    for row in vms[:3]:
        row.update(
            {
                "PricingModel": "Reservation",
                "ReservationId": AZ_RI,
                "ReservationName": "fixture-ri",
                "benefitId": AZ_RI,
                "benefitName": "fixture-ri",
                "CostInBillingCurrency": "0",
            }
        )
    vms[3].update(
        {
            "PricingModel": "SavingsPlan",
            "benefitId": AZ_SP,
            "benefitName": "fixture-sp",
            "CostInBillingCurrency": "0",
        }
    )
    template = vms[0]

    def extra(**values) -> dict:
        return {**template, "ResourceId": "", "ResourceName": "", **values}

    rows.append(
        extra(
            ChargeType="UnusedReservation",
            Quantity="2",
            EffectivePrice="0.1",
            CostInBillingCurrency="0",
        )
    )
    rows.append(
        extra(
            ChargeType="UnusedSavingsPlan",
            PricingModel="SavingsPlan",
            ReservationId="",
            ReservationName="",
            benefitId=AZ_SP,
            benefitName="fixture-sp",
            Quantity="1",
            EffectivePrice="0.03",
            CostInBillingCurrency="0",
        )
    )
    rows.append(
        extra(
            ChargeType="Purchase",
            Frequency="OneTime",
            Quantity="1",
            UnitPrice="5",
            PayGPrice="5",
            EffectivePrice="5",
            CostInBillingCurrency="5",
        )
    )
    rows.append(
        extra(
            ChargeType="Purchase",
            Frequency="Recurring",
            PricingModel="SavingsPlan",
            ReservationId="",
            ReservationName="",
            benefitId=AZ_SP,
            benefitName="fixture-sp",
            Quantity="1",
            UnitPrice="3",
            PayGPrice="3",
            EffectivePrice="3",
            CostInBillingCurrency="3",
        )
    )
    return _write(path, header, rows)


# EA cost-details name → MCA name, where they differ by more than the first letter's case.
MCA_RENAMES = {
    "BillingCurrencyCode": "billingCurrency",
    "ResourceGroup": "resourceGroupName",
    "PartNumber": "ProductId",
}
EA_ONLY = ("AccountName", "AccountOwnerId", "OfferId")


def azure_mca_export(path: Path) -> Path:
    ea = azure_commitment_export(path.with_name(f"ea_{path.name}"))
    header, rows = _read_path(ea)
    ea.unlink()
    names = {
        name: MCA_RENAMES.get(name, name[:1].lower() + name[1:])
        for name in header
        if name not in EA_ONLY
    }
    mca_rows = []
    for row in rows:
        mca = {names[k]: v for k, v in row.items() if k in names}
        mca.update(
            invoiceId="FIXTURE-MCA-INV-2023-09",
            pricingCurrency=row["BillingCurrencyCode"],
            exchangeRatePricingToBilling="1",
        )
        mca_rows.append(mca)
    mca_header = [
        "invoiceId",
        *names.values(),
        "pricingCurrency",
        "exchangeRatePricingToBilling",
    ]
    return _write(path, mca_header, mca_rows)


def expected_totals(provider: str, path: Path) -> tuple[D, D]:
    """(invoice total, amortized total) of a fixture, computed from the CSV only."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))

    def num(row, column) -> D:
        return D(row.get(column) or 0)

    if provider == "aws":
        return aws_totals(rows)
    billed = sum((num(r, "CostInBillingCurrency") for r in rows), D(0))
    amortized = D(0)
    for r in rows:
        commitment = r.get("benefitId") or r.get("ReservationId")
        if commitment and r["ChargeType"] == "Purchase":
            continue
        if commitment:
            amortized += (num(r, "EffectivePrice") * num(r, "Quantity")).quantize(D("1e-9"))
        else:
            amortized += num(r, "CostInBillingCurrency")
    return billed, amortized


def aws_totals(rows: list[dict]) -> tuple[D, D]:
    """(invoice total, amortized total) of CUR rows keyed by CUR 1.0 names (``lineItem/…``):
    usage at its cost, covered usage at its effective cost, the unused part of each RIFee and
    SavingsPlanRecurringFee; commitment purchases and SavingsPlanNegation count 0."""

    def num(row, column) -> D:
        return D(row.get(column) or 0)

    billed = sum((num(r, "lineItem/UnblendedCost") for r in rows), D(0))
    amortized = D(0)
    for r in rows:
        kind = r["lineItem/LineItemType"]
        if kind == "DiscountedUsage":
            amortized += num(r, "reservation/EffectiveCost")
        elif kind == "SavingsPlanCoveredUsage":
            amortized += num(r, "savingsPlan/SavingsPlanEffectiveCost")
        elif kind == "RIFee":
            amortized += num(r, "reservation/UnusedRecurringFee") + num(
                r, "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod"
            )
        elif kind == "SavingsPlanRecurringFee":
            amortized += num(r, "savingsPlan/TotalCommitmentToDate") - num(
                r, "savingsPlan/UsedCommitment"
            )
        elif kind in ("SavingsPlanNegation", "SavingsPlanUpfrontFee") or (
            kind == "Fee" and r.get("reservation/ReservationARN")
        ):
            continue
        else:
            amortized += num(r, "lineItem/UnblendedCost")
    return billed, amortized
