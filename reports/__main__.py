import sys

from fmreview.reports.cli import main

sys.exit(main())
