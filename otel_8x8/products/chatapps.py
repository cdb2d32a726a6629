"""Messaging Apps (Chat Apps): messages and batches, LON, typing events, files, WhatsApp templates and flows."""

from ._product import Product, regional_hosts

PRODUCT = Product(
    name="chatapps",
    title="Messaging Apps (Chat Apps)",
    hosts=regional_hosts("chatapps"),
    path_words=frozenset({"lon", "channels", "files", "events", "whatsapp"}),
    # A batch answers HTTP 200 with each message's status.state "rejected", a numeric errorCode and errorMessage.
    answers={"Send-Message": "send", "send-message-many": "batch", "send-lon-messages": "batch"},
)
