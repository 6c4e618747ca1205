"""The use cases, one module per part of the business.

- ``tenancy``: clients, users, passwords, API tokens
- ``stock``: warehouses, products, receive and adjust
- ``allocation``: reservations orders take and give back
- ``orders``: create, hold and release, floor progress, cancel
- ``fulfillment``: ship all or some lines; a store order gets a fulfil command
- ``mapping``: which product a store line is
- ``worker``: the queue loop with retries, leases and dead items
"""

from core.services._context import SYSTEM, Context, raise_alert

__all__ = ["SYSTEM", "Context", "raise_alert"]
