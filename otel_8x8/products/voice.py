"""Voice: callflows, number masking (virtual numbers), webhooks, recordings, speech profiles, log exports."""

from ..catalog import Category
from ._product import Product, own_codes

PRODUCT = Product(
    name="voice",
    title="Voice",
    # voice.wavecell.com: the legacy host, where 8x8 still documents Voice's log exports.
    hosts={"voice.8x8.com": "ap", "voice.wavecell.com": None},
    path_words=frozenset({"callflows", "recordings", "recording-push-config", "speech-profiles"}),
    # A callflow answers {"sessionStatus": "CREATED"|"NOT_CREATED", "callFlowRequestId", "statusCode",
    # "statusMessage"}: NOT_CREATED (a negative statusCode) is a failure, with HTTP 200 as well as 4xx.
    answers={"Send-Callflow": "callflow"},
    # Webhooks and recording push config answer 422 with statusCode as a string: "1001" is Voice's, not SMS's.
    codes=own_codes({1001: ("Invalid JSON request body", Category.INVALID_REQUEST)}),
)
