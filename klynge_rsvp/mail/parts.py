"""A composed mail read back the way a mail program shows it (pure: bytes in, parts out).

The organisers' previews (an announcement, a lifecycle notice) and the development mailbox at
/e-post/ all read mail through this, so they show what people will receive.
"""

from __future__ import annotations

import base64
from email import message_from_bytes, policy


def read(raw: bytes, *, inline_images: bool = False) -> dict:
    """The headers, the first text and HTML parts, and the calendar part with its METHOD.

    inline_images: put the inline images (cid:…) into the HTML as data: addresses, for a
    sandboxed frame that allows data: images only.
    """
    message = message_from_bytes(raw, policy=policy.default)
    parts = {"headers": message, "text": "", "html": "", "calendar": "", "method": ""}
    images = {}
    for part in message.walk():
        content_type = part.get_content_type()
        if content_type.startswith("image/") and part["Content-ID"]:
            encoded = base64.b64encode(part.get_payload(decode=True)).decode()
            images[part["Content-ID"].strip("<>")] = f"data:{content_type};base64,{encoded}"
        elif content_type == "text/plain" and not parts["text"]:
            parts["text"] = part.get_content()
        elif content_type == "text/html" and not parts["html"]:
            parts["html"] = part.get_content()
        elif content_type == "text/calendar":
            parts["calendar"] = part.get_payload(decode=True).decode("utf-8")
            parts["method"] = part.get_param("method") or ""
    if inline_images:
        for content_id, data_uri in images.items():
            parts["html"] = parts["html"].replace(f"cid:{content_id}", data_uri)
    return parts
