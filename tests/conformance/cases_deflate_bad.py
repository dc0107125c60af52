"""Section 15: bad permessage-deflate data (filled in by the next commit)."""
