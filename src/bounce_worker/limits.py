"""What one input may cost: the caps on a message, a mail and a task, in one place.

The caps that an operator may tune are settings (config.py, `BOUNCE_WORKER_*`); this module
holds the fixed ones and the time limits of every task, so that the rule "the broker's
visibility timeout exceeds every hard time limit" is checked against one table
(`check_visibility_timeout`, run when the Celery app loads).
"""

from __future__ import annotations

# A task message body nested deeper than this is malformed (poison.py): events are flat,
# a batch is [[{event}, ...], {}, {}], so a dozen levels is already suspicious.
MAX_JSON_DEPTH = 32
