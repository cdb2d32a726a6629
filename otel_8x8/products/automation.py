"""Automation: workflow definitions, workflow instances, triggers, steps and usage."""

from ._product import Product

PRODUCT = Product(
    name="automation",
    title="Automation",
    hosts={"automation.8x8.com": None},
    path_words=frozenset({"definitions", "workflows", "triggers", "steps"}),
)
