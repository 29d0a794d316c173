"""Access: credentials with roles and scopes, tokens hashed at rest, rate limits and the audit log."""
