"""Classification knowledge as data: each module holds one kind of evidence.

* `reasons`: the fine reason vocabulary (`Outcome.detail`) and the category each implies.
* `status_codes`: what an enhanced status code (RFC 3463 and its IANA registry) says alone.
* `smtp_stages`: how MTAs write the SMTP command a refusal answered.
* `wordings`: the diagnostic texts of MTAs and providers, in named groups, each with its stage.

Every pattern carries the document it was written from (an RFC, a provider's published
bounce/NDR reference, an MTA's source or manual). `domain/classify.py` applies them in its
evidence order; nothing here depends on a group's position in a list.
"""

from __future__ import annotations

from dataclasses import dataclass

# Where in classify's evidence order a wording group is consulted.
OVERRIDES_CODE = "overrides_code"  # unambiguous texts: decide whatever code was attached
WHEN_CODE_IS_WEAK = "when_code_is_weak"  # decide only for generic codes (X.0.0, X.y.0, ...)
STAGES = (OVERRIDES_CODE, WHEN_CODE_IS_WEAK)


# A source that is no document but wording seen in bounces ("common wording", "observed:
# ..."): such a rule may have been fitted to the mails it was seen in, and the
# leave-one-family-out check of bench/corpus_accuracy.py treats it so.
OBSERVED_SOURCES = ("common wording", "observed")


@dataclass(frozen=True, slots=True)
class Wording:
    pattern: str  # regex on the lower-cased, ASCII-only diagnostic
    source: str  # the document the wording was taken from

    @property
    def observed(self) -> bool:
        """Written from seen bounces rather than from a document (RFC, MTA source, provider
        reference)."""
        return self.source.startswith(OBSERVED_SOURCES)


@dataclass(frozen=True, slots=True)
class WordingGroup:
    name: str
    stage: str  # one of STAGES
    detail: str  # a reason of `reasons.REASONS`
    wordings: tuple[Wording, ...]
