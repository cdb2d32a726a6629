"""Automation: workflow definitions, workflow instances, triggers, steps and usage."""

from ..catalog import Category
from ._product import Product, own_codes

PRODUCT = Product(
    name="automation",
    title="Automation",
    hosts={"automation.8x8.com": None},
    path_words=frozenset({"definitions", "workflows", "triggers", "steps"}),
    # The common envelope {code, message, errorId, timestamp}; 1000 and 1300 as in the common table.
    codes=own_codes(
        {5001: ("Invalid workflow definition (8x8's example: Workflow name is required.)", Category.INVALID_REQUEST)}
    ),
)
