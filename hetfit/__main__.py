import sys

from hetfit.cli.main import main

sys.exit(main())
