"""Which operation reaches which rule.

The area: credits, wallets, payments, invoices, entitlements, purchases and licenses.
"""
from __future__ import annotations

from typing import Any

from ..domain.core.money import minor_unit
from ..domain.core.store import Store
from ..domain.ledger import licenses, payments
from . import credits as credit_handlers
from . import entitlements as entitlement_handlers
from . import invoices as invoice_handlers
from . import purchases as purchase_handlers
from . import wallets as wallet_handlers
from .binding import Binding, FixtureShape, Shapes
from .call import Call

CREDITS = Binding(
    resource="credits",
    path_param="credit_id",
    create="createCredit",
    read="getCreditDetails",
    list="listCredits",  # voided with voidCredit; Togai has no update or delete
    fixtures=FixtureShape(
        created_path=("credits", 0),
    ),
    handlers={
        "createCredit": credit_handlers.create_credits,
        "getCreditDetails": credit_handlers.get_credit,
        "listCredits": credit_handlers.list_credits,  # filters by account over an index; status as shown now
        "voidCredit": credit_handlers.void_credit,
        "CreditBalanceForAccount": credit_handlers.credit_balance,
    },
)

ENTITLEMENTS = Binding(
    resource="featureCreditEntries",
    path_param="account_id",
    list="listFeatureCreditEntries",  # granted by purchases; changed, voided and consumed below
    handlers={
        "listFeatureCreditEntries": entitlement_handlers.list_entries,
        "UpdateFeatureCreditEntry": entitlement_handlers.update_entry,
        "VoidFeatureCreditEntry": entitlement_handlers.void_entry,
        "getFeatureCredits": entitlement_handlers.feature_credits,
        "getEntitlements": entitlement_handlers.list_entitlements,
        "getEntitlementValue": entitlement_handlers.entitlement_value,
        "validateEntitlementValue": entitlement_handlers.validate_value,
        "ingestEntitledEvent": entitlement_handlers.ingest_entitled,
    },
)

INVOICES = Binding(
    resource="invoices",
    path_param="invoice_id",
    create="createCustomInvoice",
    read="getInvoice",
    list="listInvoices",
    update="updateInvoice",
    delete="deleteCustomInvoice",  # removes: only a CUSTOM invoice in DRAFT
    handlers={
        "createCustomInvoice": invoice_handlers.create_custom_invoice,
        "getInvoice": invoice_handlers.get_invoice,
        "listInvoices": invoice_handlers.list_invoices,
        "updateInvoice": invoice_handlers.update_invoice,
        "deleteCustomInvoice": invoice_handlers.delete_custom_invoice,
        "listInvoicesForBillRun": invoice_handlers.list_for_bill_run,
        "createInvoiceBillRun": invoice_handlers.bill_run,
        "manageMiscellaneousChargesInInvoice": invoice_handlers.charges_on_invoice,
        "manageMiscellaneousChargesInAccount": invoice_handlers.charges_on_account,
        "listPricingRuleLogs": invoice_handlers.pricing_rule_logs,
    },
)

LICENSES = Binding(
    resource=licenses.NAME,
    path_param="license_id",
    path_field="licenseId",
    create="addLicenseUpdateEntry",
    list="getLicenseUpdates",
    update="updateLicenseEntryDetails",  # Togai has no read or delete of a license update
    # Lambdas: the handlers are defined at the end of the module (see "payments and licenses").
    handlers={
        "addLicenseUpdateEntry": lambda s, c: add_license_update(s, c),
        "getLicenseUpdates": lambda s, c: list_license_updates(s, c),
        "updateLicenseEntryDetails": lambda s, c: update_license_details(s, c),
    },
)

NAMED_LICENSES = Binding(
    resource="namedLicenses",
    path_param="license_id",
    list="getNamedLicenseUpdates",  # assigned in Togai's app; here by the state import and the fixtures
    shapes=Shapes(
        context=False,  # NamedLicenseUpdatesPaginatedResponse is closed without it
    ),
)

PAYMENTS = Binding(
    resource="payments",
    path_param="payment_id",
    create="createPayments",
    read="getPayment",
    list="listPayments",  # Togai has no update or delete for payments
    shapes=Shapes(
        renames={"externalPaymentReference": "externalPaymentReferences"},
        context=False,  # ListPaymentResponse is closed without it
        max_page_size=payments.MAX_PAGE,
    ),
    # Defined at the end of the module. createPayments applies the payment (settles invoices, tops up the wallet).
    handlers={"getPayment": lambda s, c: get_payment(s, c), "createPayments": lambda s, c: create_payment(s, c)},
)

PURCHASES = Binding(
    resource="purchases",
    path_param="purchase_id",
    create="initiateOneTimeEntitlementPlan",
    read="getPurchase",
    list="listAccountPurchases",  # Togai has no update or delete of purchases
    fixtures=FixtureShape(
        params=("account_id",),
    ),
    handlers={
        "initiateOneTimeEntitlementPlan": purchase_handlers.create_purchase,
        "getPurchase": purchase_handlers.get_purchase,
        "listAccountPurchases": purchase_handlers.list_purchases,
    },
)

PROPOSALS = Binding(
    resource="purchaseProposals",
    path_param="purchase_proposal_id",
    create="createProposal",
    read="getProposal",
    list="listAccountProposals",  # answered with updateProposalStatus; no update or delete
    fixtures=FixtureShape(
        params=("account_id",),
    ),
    handlers={
        "createProposal": purchase_handlers.create_proposal,
        "getProposal": purchase_handlers.get_proposal,
        "listAccountProposals": purchase_handlers.list_proposals,
        "updateProposalStatus": purchase_handlers.update_proposal_status,
    },
)

WALLETS = Binding(
    resource="wallets",
    path_param="account_id",
    path_field="accountId",  # addressed by its account: /accounts/{account_id}/wallet
    create="topUpWalletForAccount",
    fixtures=FixtureShape(
        params=("account_id",),  # a fixture entry is a top-up: {account_id: ..., topupAmount: ...}
    ),
    read="WalletBalanceForAccount",
    update="updateWalletForAccount",  # Togai has no list or delete of wallets
    handlers={
        "topUpWalletForAccount": wallet_handlers.top_up,
        "WalletBalanceForAccount": wallet_handlers.get_wallet,
        "updateWalletForAccount": wallet_handlers.update_wallet,
    },
)

WALLET_ENTRIES = Binding(
    resource="walletEntries",
    path_param="account_id",
    list="WalletEntriesForAccount",  # made by top-ups; read as a page of the wallet's ledger
    handlers={"WalletEntriesForAccount": wallet_handlers.list_entries},
)


# -- payments and licenses --


def create_payment(store: Store, call: Call) -> dict[str, Any]:
    """``POST /payments``: the payment, applied; amounts in the currency's minor unit (Babel's table)."""
    body = {PAYMENTS.shapes.renames.get(k, k): v for k, v in call.body.items()}
    decimals = -int(minor_unit(body["currency"]).as_tuple().exponent)
    return dict(payments.create_payment(store, body, decimals))


def get_payment(store: Store, call: Call) -> dict[str, Any]:
    """``GET /payments/{payment_id}``, of ``version`` if asked."""
    return dict(payments.get_payment(store, call.params["payment_id"], call.params.get("version")))


def add_license_update(store: Store, call: Call) -> dict[str, Any]:
    """``POST /license_updates``: the entry with its derived quantity."""
    return licenses.render(store, licenses.add_update(store, call.body))


def list_license_updates(store: Store, call: Call) -> dict[str, Any]:
    """``GET /license_updates``: each entry with its derived quantity."""
    params = call.params
    page, extra = licenses.list_updates(
        store,
        params.get("account_id"),
        params.get("licenseId"),
        params.get("effectiveFrom"),
        params.get("nextToken"),
        params.get("pageSize"),
    )
    derived = licenses.quantities(store, page)
    return {"data": [licenses.render(store, e, derived[e["id"]]) for e in page], **extra}


def update_license_details(store: Store, call: Call) -> dict[str, Any]:
    """``PATCH /license_updates/{license_id}`` (the license may be named in the query instead)."""
    body = call.body
    entry = licenses.update_details(
        store, call.params["license_id"], call.params.get("licenseId"), body["accountId"], body["effectiveFrom"],
        body["metadata"],
    )
    return licenses.render(store, entry)
