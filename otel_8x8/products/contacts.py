"""Contacts: contacts, groups, the blacklist, and batch jobs over them."""

from ._product import Product, regional_hosts

PRODUCT = Product(
    name="contacts",
    title="Contacts",
    hosts=regional_hosts("contacts"),
    path_words=frozenset({"contacts", "groups", "blacklist"}),
)
