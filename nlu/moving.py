"""Moving house is three procedures that differ only in direction: into the city (転入), out of it
(転出) or within it (転居). A message about moving that does not say which («来月引っ越す») is
asked about, never answered with a guess.
"""

from __future__ import annotations

import re

from nlu.normalize import normalise, to_hiragana

_MOVING = re.compile(r"引っ?越|ひっこ|移り住|移住|越してく|越して来|越してき")
# Anything that says where from or where to: 市外・市内・県外, a named place with に/へ/から, 転入・転出・
# 転居, coming here (来た, こっちに), leaving (出る).
_DIRECTION = re.compile(
    r"市外|市内|県外|県内|町内|市の中|同じ市|よそ|ほかの|他の|転入|転出|転居|てんにゅう|てんしゅつ|てんきょ"
    r"|[市町村県都府区島]から|[市町村県都府区島]に|[市町村県都府区島]へ|こっち|こちら|ここに"
    r"|来た|きた|来ま|きま|来る|くる|出る|でる|出ま|でま|出て|でて|戻"
)


def says_move_without_direction(text: str) -> bool:
    folded = normalise(text)
    return bool(_MOVING.search(folded)) and not _DIRECTION.search(folded) and not _DIRECTION.search(to_hiragana(folded))
