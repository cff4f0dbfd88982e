"""Alerts: templates, alerts on usage and balances, the incidents they open, and reports.

Above usage and the ledger (it reads meters, usage totals, credit and wallet
balances); below nothing. Usage and the billing engine tell it what changed
through the observers of :mod:`mock_server.domain.core.observers`.
"""
