"""Voice: callflows, number masking (virtual numbers), webhooks, recordings, speech profiles, log exports."""

from ._product import Product

PRODUCT = Product(
    name="voice",
    title="Voice",
    # voice.wavecell.com: the legacy host, where 8x8 still documents Voice's log exports.
    hosts={"voice.8x8.com": "ap", "voice.wavecell.com": None},
    path_words=frozenset({"callflows", "recordings", "recording-push-config", "speech-profiles"}),
)
