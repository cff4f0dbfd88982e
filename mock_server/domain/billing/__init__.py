"""Togai's billing engine: pricing cycles closing on the clock, and the invoices they make.

``money`` rounds to a currency's minor unit; ``lines`` prices one account's
cycle as invoice lines (usage from the aggregates, fixed fees); ``engine``
keeps the due-work queue and processes it in time order. ``settle`` applies credits
and the wallet to an invoice as it becomes DUE; ``groups`` merges an invoice group's members'
invoices into the group's COMPOSITE invoice. Billing may use
pricing, usage and ledger; nothing in the domain uses billing.
"""
