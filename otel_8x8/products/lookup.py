"""Number Lookup: one phone number's carrier and reachability (the number is in the path)."""

from ..catalog import Category
from ._product import Product, own_codes, regional_hosts

PRODUCT = Product(
    name="lookup",
    title="Number Lookup",
    hosts=regional_hosts("lookup"),
    path_words=frozenset({"phones"}),
    # A failed lookup answers HTTP 200: {"status": {"state": "error", "errorCode": 6000, "errorMessage"}}.
    answers={"phone-number-lookup": "lookup"},
    # The lookup codes (2004-2007, 6000-6005) are in the common catalog: no other product uses them. 2000 is
    # worded otherwise than the SMS table's.
    codes=own_codes({2000: ("Internal error / Unknown provider error", Category.SERVER_ERROR)}),
)
