"""SMS: single and batch sends, surveys, message details and log exports, prices, balance, webhooks."""

from ._product import Product, regional_hosts

PRODUCT = Product(
    name="sms",
    title="SMS",
    # api.wavecell.com: the legacy SMS API (/sms/v1/{subAccountId}/single|many), no region in its name.
    hosts={**regional_hosts("sms"), "api.wavecell.com": None},
)
