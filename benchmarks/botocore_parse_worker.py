"""The peer of "5,000 profiles: load + tree painted": botocore's own parse of the same files, in a fresh process.

Reads AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE as boto3 does: ``botocore.configloader.load_config`` (what
``Session.full_config`` calls: every section parsed, then the profile map built) and the credentials file
through ``raw_config_parse``. botocore is imported before the clock starts: the figure is the parse alone
(stsdesk's side counts every import its load makes, so the comparison can only be unkind to stsdesk).
Prints {"parse": s, "profiles": n}.
"""

from __future__ import annotations

import json
import os
import sys
import time

import botocore.configloader


def main() -> int:
    t0 = time.perf_counter()
    config = botocore.configloader.load_config(os.environ["AWS_CONFIG_FILE"])  # what Session.full_config calls
    profiles = config["profiles"]
    credentials = botocore.configloader.raw_config_parse(os.environ["AWS_SHARED_CREDENTIALS_FILE"])
    parse = time.perf_counter() - t0
    print(json.dumps({"parse": parse, "profiles": len(profiles), "credentials": len(credentials)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
