"""Video Interaction: tokens, calls and call logs of video agents."""

from ._product import Product

PRODUCT = Product(
    name="video",
    title="Video Interaction",
    hosts={"video-agent.8x8.com": None},
    path_words=frozenset({"tokens", "calls", "call-logs"}),
)
