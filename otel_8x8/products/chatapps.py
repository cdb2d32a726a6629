"""Messaging Apps (Chat Apps): messages and batches, LON, typing events, files, WhatsApp templates and flows."""

from ._product import Product, regional_hosts

PRODUCT = Product(
    name="chatapps",
    title="Messaging Apps (Chat Apps)",
    hosts=regional_hosts("chatapps"),
    path_words=frozenset({"lon", "channels", "files", "events", "whatsapp"}),
)
