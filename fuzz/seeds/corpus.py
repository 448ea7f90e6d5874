"""The seed registry both seed modules write into, and the helpers they share."""

SEEDS = {}


def crlf(text):
    """Lines of `text` joined with CRLF (the RFC's line end)."""
    return text.replace("\n", "\r\n").encode("latin-1")


def seed(name, data):
    assert name not in SEEDS, name
    SEEDS[name] = data if isinstance(data, bytes) else crlf(data)


SDP = """v=0
o=alice 53655765 2353687637 IN IP4 192.0.2.10
s=-
c=IN IP4 192.0.2.10
t=0 0
m=audio 49170 RTP/AVP 0
"""

