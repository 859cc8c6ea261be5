"""The peer of "5,000 profiles: load + tree painted": botocore's own parse of the same files, in a fresh process.

Reads AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE as boto3 does: ``botocore.session.Session().full_config``
(configloader.load_config: every section parsed, then the profile map built) and the credentials file through
``raw_config_parse``. botocore.configloader is imported before the clock starts, as stsdesk's worker has it
imported (by stsdesk.core.profiles) before its clock starts; everything else botocore imports is counted.
Prints {"parse": s, "profiles": n}.
"""

from __future__ import annotations

import json
import os
import sys
import time

import botocore.configloader  # noqa: F401 - imported before the clock starts (see above)


def main() -> int:
    t0 = time.perf_counter()
    import botocore.session

    session = botocore.session.Session()
    profiles = session.available_profiles  # full_config: the whole config file parsed and mapped
    credentials = botocore.configloader.raw_config_parse(os.environ["AWS_SHARED_CREDENTIALS_FILE"])
    parse = time.perf_counter() - t0
    print(json.dumps({"parse": parse, "profiles": len(profiles), "credentials": len(credentials)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
