"""Verification: verification sessions (send a code, validate it) and silent mobile authentication coverage."""

from ._product import Product, regional_hosts

PRODUCT = Product(
    name="verify",
    title="Verification",
    hosts=regional_hosts("verify"),
    path_words=frozenset({"sessions", "sma"}),
)
