"""`python -m gateway_app ...`"""

import sys

from gateway_app.cli import main

sys.exit(main())
