"""Reports rendered from a results document."""
