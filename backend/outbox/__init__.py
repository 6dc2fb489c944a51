"""Transactional outbox: side effects queued in the caller's transaction, delivered after commit."""
