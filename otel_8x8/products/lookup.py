"""Number Lookup: one phone number's carrier and reachability (the number is in the path)."""

from ._product import Product, regional_hosts

PRODUCT = Product(
    name="lookup",
    title="Number Lookup",
    hosts=regional_hosts("lookup"),
    path_words=frozenset({"phones"}),
)
