import sys

from wirebridge.cli.main import main

sys.exit(main())
