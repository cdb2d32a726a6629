"""SMS: single and batch sends, surveys, message details and log exports, prices, balance, webhooks."""

from ._product import Product, regional_hosts

PRODUCT = Product(
    name="sms",
    title="SMS",
    # api.wavecell.com: the legacy SMS API (/sms/v1/{subAccountId}/single|many), no region in its name.
    hosts={**regional_hosts("sms"), "api.wavecell.com": None},
    # A batch answers HTTP 200 with each message's status.code QUEUED or REJECTED (and a description).
    answers={"Send-Sms-Single": "send", "Survey-Send": "send", "Send-Many-Sms": "batch", "Survey-Send-Many": "batch"},
)
