"""bounce-worker: turns delivery feedback into suppression decisions, with their reasons."""

import logging

# flanker builds its address grammar with PLY on first import and logs "Symbol ... is
# unreachable" warnings to stderr; they are harmless and would drown our own output.
logging.getLogger("flanker.addresslib._parser.parser").setLevel(logging.ERROR)

__version__ = "0.1.0"
