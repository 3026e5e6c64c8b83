"""FAQ: answers from the city's knowledge base, 「もしかして…」 candidates, feedback on answers, and
the questions we could not answer, counted for staff."""
