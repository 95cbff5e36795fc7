"""One module per resource; `common` holds what they share (ETags, pages, responses)."""
