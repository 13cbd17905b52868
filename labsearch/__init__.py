"""labsearch: conversational semantic search for scientific lab data."""
