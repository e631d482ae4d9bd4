import sys

from bounce_worker.cli import main

sys.exit(main())
