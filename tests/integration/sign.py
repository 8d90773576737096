#!/usr/bin/env python3
"""Signs a webhook body for the ingress tests, byte-exact.

  sign.py twenty SECRET BODY_FILE [TIMESTAMP_MS]
      prints "TIMESTAMP_MS SIGNATURE" (X-Twenty-Webhook-Timestamp and
      X-Twenty-Webhook-Signature; the timestamp defaults to now).
  sign.py standard WHSEC_SECRET MSG_ID BODY_FILE [TIMESTAMP_S]
      prints "TIMESTAMP_S v1,BASE64" (webhook-timestamp, webhook-signature).
"""
import base64
import hashlib
import hmac
import sys
import time


def main(argv):
    if len(argv) >= 4 and argv[1] == "twenty":
        body = open(argv[3], "rb").read()
        ts = argv[4] if len(argv) > 4 else str(int(time.time() * 1000))
        sig = hmac.new(argv[2].encode(), ts.encode() + b":" + body, hashlib.sha256).hexdigest()
        print(ts, sig)
        return 0
    if len(argv) >= 5 and argv[1] == "standard":
        key = base64.b64decode(argv[2].removeprefix("whsec_"))
        body = open(argv[4], "rb").read()
        ts = argv[5] if len(argv) > 5 else str(int(time.time()))
        msg = argv[3].encode() + b"." + ts.encode() + b"." + body
        sig = base64.b64encode(hmac.new(key, msg, hashlib.sha256).digest()).decode()
        print(ts, "v1," + sig)
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
